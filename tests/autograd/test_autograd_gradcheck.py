"""Gradients against float64 central finite differences: each fused op, an attention layer,
a whole numpy GPT, and a deliberately broken op that the checker must catch."""
from __future__ import annotations

import numpy as np
import pytest

from blocklab.autograd import GPT, Tensor
from blocklab.autograd import functional as F
from blocklab.autograd.gradcheck import GradcheckError, check_parameters, gradcheck
from blocklab.nn import GPTConfig


def _t(rng, *shape, scale=1.0):
    return Tensor(rng.standard_normal(shape) * scale, requires_grad=True)


@pytest.mark.parametrize("case", ["linear", "layer_norm", "gelu", "gelu_tanh", "softmax", "log_softmax",
                                  "cross_entropy", "embedding", "matmul_batched", "amax", "getitem_repeats"])
def test_ops_against_finite_differences(rng, case):
    target = rng.integers(0, 5, 6)
    target[2] = -100
    fn, inputs = {
        "linear": (F.linear, [_t(rng, 2, 3, 4), _t(rng, 5, 4), _t(rng, 5)]),
        "layer_norm": (lambda x, w, b: F.layer_norm(x, w, b), [_t(rng, 3, 6, scale=2.0), _t(rng, 6), _t(rng, 6)]),
        "gelu": (F.gelu, [_t(rng, 4, 5, scale=2.0)]),
        "gelu_tanh": (lambda x: F.gelu(x, "tanh"), [_t(rng, 4, 5, scale=2.0)]),
        "softmax": (lambda x: F.softmax(x, -1), [_t(rng, 3, 5)]),
        "log_softmax": (lambda x: F.log_softmax(x, 0), [_t(rng, 3, 5)]),
        "cross_entropy": (lambda z: F.cross_entropy(z, target), [_t(rng, 6, 5, scale=2.0)]),
        "embedding": (lambda w: F.embedding(np.array([[0, 2, 2], [3, 0, 2]]), w), [_t(rng, 4, 3)]),
        "matmul_batched": (lambda a, b: a @ b, [_t(rng, 2, 1, 3, 4), _t(rng, 3, 4, 2)]),
        "amax": (lambda x: x.max(dim=1), [_t(rng, 3, 4)]),
        "getitem_repeats": (lambda x: x[np.array([0, 2, 0])], [_t(rng, 3, 2)]),
    }[case]
    assert gradcheck(fn, inputs) < 1e-6


def test_attention_layer_against_finite_differences(rng):
    from blocklab.autograd.layers import MultiHeadAttention

    cfg = GPTConfig(vocab_size=5, d_model=6, n_heads=2, n_layers=1, d_ff=8, max_len=4, dropout=0.0, init_std=0.5)
    attn = MultiHeadAttention(cfg, rng, np.float64)
    x = _t(rng, 2, 4, 6)
    assert gradcheck(attn, [x]) < 1e-6
    assert check_parameters(lambda: (attn(x) * np.cos(np.arange(6.0))).sum(), list(attn.named_parameters())) < 1e-6


@pytest.mark.parametrize("pos,norm_position,tie", [("learned", "pre", False), ("sinusoidal", "post", True)])
def test_whole_gpt_against_finite_differences(rng, pos, norm_position, tie):
    """WHAT: random entries of every parameter of a 2-layer float64 GPT. WHY: catches a bug
    anywhere in the chain, including ones that only show when ops are composed."""
    cfg = GPTConfig(vocab_size=7, d_model=8, n_heads=2, n_layers=2, d_ff=12, max_len=5, dropout=0.0,
                    pos_encoding=pos, norm_position=norm_position, tie_weights=tie, init_std=0.3)
    model = GPT(cfg, seed=1, dtype=np.float64)
    idx, targets = rng.integers(0, 7, (3, 5)), rng.integers(0, 7, (3, 5))
    assert check_parameters(lambda: model.loss(idx, targets), list(model.named_parameters()), entries=3) < 1e-6


def test_gradcheck_catches_a_wrong_gradient(rng):
    """A tanh whose backward forgets the square (1 - y instead of 1 - y^2) must fail."""

    def bad_tanh(x):
        y = np.tanh(x.data)
        return Tensor._op(y, (x,), lambda g: x._accumulate(g * (1 - y)))

    with pytest.raises(GradcheckError, match="disagree"):
        gradcheck(bad_tanh, [_t(rng, 3, 3)])


def test_gradcheck_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(F.gelu, [Tensor(np.ones(3, np.float32), requires_grad=True)])
