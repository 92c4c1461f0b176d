"""The fused neural-network functions against torch.nn.functional in float64, and their edge cases:
large and -inf logits, ignored targets, repeated embedding indices, dropout."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from blocklab.autograd import Tensor
from blocklab.autograd import functional as F
from blocklab.autograd.special import normal_cdf


@pytest.mark.parametrize("bias", [True, False])
def test_linear(vs_torch, rng, bias):
    arrays = [rng.standard_normal((2, 5, 3)), rng.standard_normal((4, 3))] + ([rng.standard_normal(4)] if bias else [])
    vs_torch(F.linear, TF.linear, *arrays)


def test_layer_norm(vs_torch, rng):
    x = rng.standard_normal((2, 3, 6)) * 3.0 + 1.0
    vs_torch(lambda a, w, b: F.layer_norm(a, w, b, 1e-5), lambda a, w, b: TF.layer_norm(a, (6,), w, b, 1e-5),
             x, rng.standard_normal(6), rng.standard_normal(6))
    vs_torch(lambda a: F.layer_norm(a, None, None, 1e-3), lambda a: TF.layer_norm(a, (6,), eps=1e-3), x)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(vs_torch, rng, approximate):
    x = np.concatenate([rng.standard_normal(50) * 3, [0.0, -0.0, 8.0, -8.0, 30.0, -30.0]])
    vs_torch(lambda t: F.gelu(t, approximate), lambda t: TF.gelu(t, approximate=approximate), x)


def test_gelu_float32_matches_torch():
    x = np.linspace(-10, 10, 10001, dtype=np.float32)
    ours = F.gelu(Tensor(x)).data
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, TF.gelu(torch.from_numpy(x)).numpy(), atol=2e-6)


def test_normal_cdf_accuracy():
    """WHAT: the fitted CDF vs torch's erfc. WHY: the fit is computed at import; check it held."""
    x = np.linspace(-37, 37, 20001)
    ref = 0.5 * torch.erfc(-torch.from_numpy(x) / np.sqrt(2)).numpy()
    np.testing.assert_allclose(normal_cdf(x), ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(normal_cdf(x.astype(np.float32)), ref, atol=3e-7)
    zeros = normal_cdf(np.array([0.0, -0.0]))
    assert zeros[0] == zeros[1] and abs(zeros[0] - 0.5) < 1e-13  # -0.0 takes the same branch as 0.0


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_softmax_and_log_softmax(vs_torch, rng, dim):
    x = rng.standard_normal((3, 4, 5))
    vs_torch(lambda t: F.softmax(t, dim), lambda t: TF.softmax(t, dim), x)
    vs_torch(lambda t: F.log_softmax(t, dim), lambda t: TF.log_softmax(t, dim), x)


def test_softmax_large_logits_are_stable(vs_torch, rng):
    x = rng.standard_normal((4, 6)) * 1e4 + 1e6  # exp(1e6) overflows unless the max is subtracted
    vs_torch(lambda t: F.softmax(t, -1), lambda t: TF.softmax(t, -1), x)
    vs_torch(lambda t: F.log_softmax(t, -1), lambda t: TF.log_softmax(t, -1), x, atol=1e-6)
    assert np.isfinite(F.softmax(Tensor(x.astype(np.float32)), -1).data).all()


def test_softmax_with_minus_inf_entries(vs_torch, rng):
    """-inf entries (masked keys) get probability exactly 0 and no gradient, and nothing is NaN."""
    x = rng.standard_normal((3, 5))
    x[0, 1] = x[1, [0, 4]] = x[2, :4] = -np.inf
    vs_torch(lambda t: F.softmax(t, -1), lambda t: TF.softmax(t, -1), x)
    vs_torch(lambda t: F.log_softmax(t, -1), lambda t: TF.log_softmax(t, -1), x)
    t = Tensor(x, requires_grad=True)
    y = F.softmax(t, -1)
    y.backward(np.random.default_rng(1).standard_normal(y.shape))
    assert (y.data[np.isinf(x)] == 0).all() and (t.grad[np.isinf(x)] == 0).all() and np.isfinite(t.grad).all()
    np.testing.assert_array_equal(y.data[2], [0, 0, 0, 0, 1])


def test_softmax_of_a_fully_masked_row_is_zero_not_nan():
    """Documented difference from torch (which gives NaN): no allowed entry, no probability."""
    x = Tensor(np.array([[-np.inf, -np.inf], [0.0, 1.0]]), requires_grad=True)
    y = F.softmax(x, -1)
    y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(y.data[0], [0.0, 0.0])
    assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(vs_torch, rng, reduction):
    logits = rng.standard_normal((2, 5, 7)) * 3
    target = rng.integers(0, 7, (2, 5))
    target[0, 1] = target[1, 3] = -100  # padding
    tt = torch.from_numpy(target)
    vs_torch(lambda z: F.cross_entropy(z, target, reduction=reduction),
             lambda z: TF.cross_entropy(z.reshape(-1, 7), tt.reshape(-1), reduction=reduction).reshape(
                 tt.shape if reduction == "none" else ()), logits)


def test_cross_entropy_ignore_index_and_large_logits(vs_torch, rng):
    logits = rng.standard_normal((6, 4)) * 1e3
    target = np.array([0, 3, 2, 3, 1, 3])
    vs_torch(lambda z: F.cross_entropy(z, target, ignore_index=3),
             lambda z: TF.cross_entropy(z, torch.from_numpy(target), ignore_index=3), logits, atol=1e-8)
    z = Tensor(logits, requires_grad=True)
    F.cross_entropy(z, target, ignore_index=3).backward()
    assert (z.grad[target == 3] == 0).all()  # ignored rows get no gradient at all


def test_cross_entropy_all_ignored_is_nan_as_torch():
    assert np.isnan(F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([-100, -100])).item())


def test_cross_entropy_rejects_out_of_range_targets():
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 3]))


def test_embedding_repeated_indices_accumulate(vs_torch, rng):
    """WHAT: a token seen k times gets the sum of k gradients. WHY: grad[idx] += g keeps one of them."""
    idx = np.array([[1, 3, 1], [1, 0, 3]])
    vs_torch(lambda w: F.embedding(idx, w), lambda w: TF.embedding(torch.from_numpy(idx), w),
             rng.standard_normal((5, 4)))
    w = Tensor(np.zeros((5, 2)), requires_grad=True)
    F.embedding(np.array([2, 2, 2]), w).backward(np.ones((3, 2)))
    np.testing.assert_array_equal(w.grad[2], [3.0, 3.0])
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        F.embedding(np.array([0, 5]), w)


def test_sum_rows_by_index_equals_add_at(rng):
    from blocklab.autograd.kernels import sum_rows_by_index

    idx, rows = rng.integers(0, 7, 300), rng.standard_normal((300, 4))
    expected = np.zeros((9, 4))
    np.add.at(expected, idx, rows)
    np.testing.assert_allclose(sum_rows_by_index(idx, rows, 9), expected, rtol=1e-12)
    np.testing.assert_array_equal(sum_rows_by_index(idx[:0], rows[:0], 3), np.zeros((3, 4)))


def test_dropout():
    F.manual_seed(0)
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    assert F.dropout(x, 0.3, training=False) is x and F.dropout(x, 0.0) is x
    y = F.dropout(x, 0.3)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)  # inverted dropout: the mean is unchanged
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad, y.data)  # the gradient goes through the same mask
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout(x, 1.0)
