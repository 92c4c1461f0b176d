"""LayerNorm, RMSNorm and BatchNorm against references, with copied random weights, in float64."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.nn import BatchNorm, LayerNorm, RMSNorm

from .helpers import WeightMap, assert_close, backprop_same, leaf, randomize_

B, T, D = 3, 4, 6
F64 = {"dtype": torch.float64}


@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_layer_norm_matches_torch(eps):
    ours, ref = LayerNorm(D, eps).double(), randomize_(nn.LayerNorm(D, eps=eps, **F64))
    weights = WeightMap()
    weights.norm("norm", ours, ref)
    x = torch.randn(B, T, D, **F64) * 3 + 1
    x_ours, x_ref = leaf(x), leaf(x)
    out, out_ref = ours(x_ours), ref(x_ref)
    assert_close(out, out_ref, "output")
    backprop_same(out, out_ref)
    assert_close(x_ours.grad, x_ref.grad, "gradient of x")
    weights.assert_same_grads()


def reference_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Zhang & Sennrich (2019): x / RMS(x) * g, with RMS(x) = sqrt(mean_i x_i^2 + eps). No centring, no bias."""
    rms = (x.pow(2).sum(-1, keepdim=True) / x.shape[-1] + eps).sqrt()
    return x / rms * weight


@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_rms_norm_matches_the_formula(eps):
    ours = randomize_(RMSNorm(D, eps).double())
    weight = leaf(ours.weight)
    x = torch.randn(B, T, D, **F64) * 3 + 1
    x_ours, x_ref = leaf(x), leaf(x)
    out, out_ref = ours(x_ours), reference_rms_norm(x_ref, weight, eps)
    assert_close(out, out_ref, "output")
    backprop_same(out, out_ref)
    assert_close(x_ours.grad, x_ref.grad, "gradient of x")
    assert_close(ours.weight.grad, weight.grad, "gradient of the weight")


def test_batch_norm_matches_batchnorm1d_over_batch_and_time():
    """BatchNorm over (B, T, D) is nn.BatchNorm1d on the (B*T, D) matrix: batch statistics in
    training (with running averages updated alike), running statistics in eval."""
    ours, ref = BatchNorm(D).double(), randomize_(nn.BatchNorm1d(D, **F64))
    weights = WeightMap()
    weights.norm("norm", ours, ref)
    for step in range(3):
        x = torch.randn(B, T, D, **F64) * (step + 1) + step
        x_ours, x_ref = leaf(x), leaf(x.reshape(B * T, D))
        out, out_ref = ours(x_ours), ref(x_ref).reshape(B, T, D)
        assert_close(out, out_ref, f"training output, step {step}")
        assert_close(ours.running_mean, ref.running_mean, f"running mean, step {step}")
        assert_close(ours.running_var, ref.running_var, f"running variance, step {step}")
    backprop_same(out, out_ref)
    assert_close(x_ours.grad, x_ref.grad.reshape(B, T, D), "gradient of x")
    weights.assert_same_grads()

    ours.eval(), ref.eval()
    x = torch.randn(B, T, D, **F64)
    assert_close(ours(x), ref(x.reshape(B * T, D)).reshape(B, T, D), "eval output")


def test_batch_norm_with_one_value_per_feature_raises():
    norm = BatchNorm(D)
    with pytest.raises(BlocklabError, match="batch x time = 1"):
        norm(torch.randn(1, 1, D))
    norm.eval()
    assert norm(torch.randn(1, 1, D)).shape == (1, 1, D), "eval uses running statistics, so one value is fine"
