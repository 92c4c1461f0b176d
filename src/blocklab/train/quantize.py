"""int8 dynamic quantization for inference, written out: every nn.Linear becomes an `Int8Linear`.

Weights are quantized once, per output row j; activations on the fly, per input row i
(one token's features), both symmetric onto the integers -127..127:

    sw_j = max|W_j| / 127     qw = round(W / sw)      stored as int8 (1 byte instead of 4)
    sx_i = max|x_i| / 127     qx = round(x / sx)      computed at every call ("dynamic")
    y_ij = (qx_i . qw_j) * sx_i * sw_j + b_j          the dot product summed exactly in int32

Rounding moves each value by at most half a step, so one output is off by at most
(sx_i / 2) * sum_k |W_jk| + (sw_j / 2) * sum_k |x̂_ik|, a bound the tests check.
Embeddings, norms and biases stay in float32: they hold few parameters or feed no matmul.

Why not torch.ao.quantization.quantize_dynamic: in torch 2.13 it warns that it is deprecated
and will be removed (its successor is the separate torchao package), and the quantized tensor
types it builds warn likewise. The arithmetic above is the same as its fbgemm kernel's (int8
weights, int8 activations, int32 sums), in plain tensor ops. The one kernel it needs is
torch._int_mm (int8 x int8 -> int32, on the CPU's integer dot-product instructions); an int32
matmul would be slower than float32. The study train-features times both models.

    q = quantize_int8(model)                       # a quantized copy in eval mode; model is untouched
    evaluate(q, data["test"], loss_fn, 256, "cpu")  # the usual evaluation works on it
    compare_int8(model, data["test"], loss_fn)      # float vs int8: metrics and bytes side by side
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import BlocklabError
from .checkpoint import model_tensors
from .data import Split
from .evaluate import LossFn, evaluate

QMAX = 127  # symmetric int8: -128 is left out so that negating a value never overflows


def _scale(t: torch.Tensor) -> torch.Tensor:
    """max|t| / QMAX over the last dim, keepdim; an all-zero row gets scale 1 (its values quantize to 0)."""
    peak = t.abs().amax(dim=-1, keepdim=True)
    return torch.where(peak > 0, peak / QMAX, torch.ones_like(peak))


def quantize_rows(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """t (..., K) float -> (int8 values (..., K), float32 scale per row (..., 1)); t ≈ values * scale."""
    scale = _scale(t.float())
    return torch.round(t.float() / scale).clamp(-QMAX, QMAX).to(torch.int8), scale


class Int8Linear(nn.Module):
    """nn.Linear for inference with int8 weights and per-row dynamic int8 activations."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        qweight, scale = quantize_rows(linear.weight.detach())
        self.register_buffer("qweight", qweight)  # (N, K) int8
        self.register_buffer("weight_scale", scale[:, 0])  # (N,)
        bias = linear.bias.detach().float().clone() if linear.bias is not None else None
        self.register_buffer("bias", bias)  # (N,) or None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        qx, sx = quantize_rows(x.reshape(-1, self.in_features))  # (M, K) int8, (M, 1)
        acc = torch._int_mm(qx, self.qweight.t())  # (M, N) int32: exact integer sums
        y = acc.float() * sx * self.weight_scale
        if self.bias is not None:
            y = y + self.bias
        return y.to(x.dtype).reshape(*lead, self.out_features)

    def dequantized_weight(self) -> torch.Tensor:
        """(N, K) float32: the weight this layer actually multiplies by."""
        return self.qweight.float() * self.weight_scale[:, None]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` for CPU inference, every nn.Linear replaced by an Int8Linear, in eval mode.

    A weight tied to an embedding (a GPT's output head) gets its own int8 copy: the float
    table is still needed for the lookup. Nothing in the copy requires grad: int8 rounding
    has no useful gradient, so the copy is for inference only.
    """
    devices = {str(t.device) for t in model.state_dict().values()}
    if devices - {"cpu"}:
        raise BlocklabError(f"quantize_int8 runs on the CPU, but the model has tensors on {sorted(devices)}; "
                            "call model.cpu() first")
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise BlocklabError(f"quantize_int8 found no nn.Linear in {type(model).__name__}: dynamic int8 "
                            "quantization replaces Linear layers only, and this model has nothing to quantize")
    quantized = copy.deepcopy(model)
    for name in linears:
        parent_name, _, child = name.rpartition(".")
        parent = quantized.get_submodule(parent_name)
        setattr(parent, child, Int8Linear(getattr(parent, child)))
    quantized.requires_grad_(False)
    return quantized.eval()


def state_bytes(model: nn.Module) -> int:
    """Bytes of the model's weights and buffers as a checkpoint stores them (a tied tensor once)."""
    return sum(t.numel() * t.element_size() for t in model_tensors(model).values())


def compare_int8(model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int = 256) -> dict:
    """Evaluate `model` and its int8 copy on `split` (CPU): {"float": metrics, "int8": metrics,
    "change": int8 - float per metric, "float_bytes", "int8_bytes", "size_ratio"}. Both run on a CPU
    copy, so `model` stays on its device."""
    model = copy.deepcopy(model).cpu()
    quantized = quantize_int8(model)
    scores = {"float": evaluate(model, split, loss_fn, batch_size, "cpu"),
              "int8": evaluate(quantized, split, loss_fn, batch_size, "cpu")}
    float_bytes, int8_bytes = state_bytes(model), state_bytes(quantized)
    return {**scores, "change": {k: scores["int8"][k] - v for k, v in scores["float"].items()},
            "float_bytes": float_bytes, "int8_bytes": int8_bytes, "size_ratio": int8_bytes / float_bytes}
