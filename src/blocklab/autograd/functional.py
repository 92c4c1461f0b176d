"""Neural-network functions, torch.nn.functional style.

The ones a training step spends its time in (linear, layer_norm, gelu, softmax,
cross_entropy) are fused: one node each, with its closed-form backward, instead of a
chain of elementwise nodes. That is what keeps the engine within reach of PyTorch: fewer
Python calls, fewer temporaries. Each is checked against torch and finite differences.
"""
from __future__ import annotations

import math

import numpy as np

from .kernels import sum_keepdim, sum_last, sum_leading, sum_rows_by_index
from .ops_shape import concat, masked_fill, split, where
from .special import normal_cdf
from .tensor import Tensor

__all__ = [
    "concat", "cross_entropy", "dropout", "embedding", "gelu", "layer_norm", "linear", "log_softmax",
    "manual_seed", "masked_fill", "relu", "softmax", "split", "where",
]

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator that dropout draws its masks from."""
    global _rng
    _rng = np.random.default_rng(seed)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, weight (out, in) as in torch.   x (..., in) -> (..., out)"""
    rows = x.data.reshape(-1, x.shape[-1])  # (N, in): every leading position is one GEMM row
    out = rows @ weight.data.T  # (N, out)
    if bias is not None:
        out += bias.data

    def backward(g: np.ndarray) -> None:
        g_rows = g.reshape(-1, g.shape[-1])  # (N, out)
        if x.requires_grad:
            x._accumulate((g_rows @ weight.data).reshape(x.shape))
        if weight.requires_grad:
            weight._accumulate(g_rows.T @ rows)
        if bias is not None and bias.requires_grad:
            bias._accumulate(sum_leading(g_rows))

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._op(out.reshape(*x.shape[:-1], -1), parents, backward)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (approximate='none', torch's default) or its tanh approximation ('tanh')."""
    a = x.data
    if approximate == "none":
        cdf = normal_cdf(a)
        out = a * cdf

        def backward(g: np.ndarray) -> None:
            pdf = np.exp(a * a * a.dtype.type(-0.5))
            pdf *= a.dtype.type(1.0 / math.sqrt(2.0 * math.pi))
            pdf *= a
            pdf += cdf  # d/dx x Phi(x) = Phi(x) + x phi(x)
            x._accumulate(g * pdf)

        return Tensor._op(out, (x,), backward)
    if approximate != "tanh":
        raise ValueError(f"approximate={approximate!r} is not valid; choose one of: 'none', 'tanh'")
    c = a.dtype.type(math.sqrt(2.0 / math.pi))
    th = np.tanh(c * (a + a.dtype.type(0.044715) * a**3))
    out = 0.5 * a * (1.0 + th)

    def backward_tanh(g: np.ndarray) -> None:
        d_inner = c * (1.0 + a.dtype.type(3 * 0.044715) * a * a)
        x._accumulate(g * (0.5 * (1.0 + th) + 0.5 * a * (1.0 - th * th) * d_inner))

    return Tensor._op(out, (x,), backward_tanh)


def _stable_exp(a: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(a - max) along dim, its sum, and the max. A row that is all -inf uses max 0
    instead, so it gives exp = 0 rather than exp(-inf - -inf) = NaN."""
    peak = a.max(axis=dim, keepdims=True)
    if not np.isfinite(peak).all():
        peak = np.where(peak == -np.inf, 0, peak).astype(a.dtype, copy=False)
    e = a - peak
    np.exp(e, out=e)
    return e, sum_keepdim(e, dim), peak


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed as exp(x - max): large logits do not overflow,
    and -inf entries get probability 0. A row with every entry -inf (nothing allowed) gives
    all zeros and no gradient, where torch gives NaN."""
    e, total, _ = _stable_exp(x.data, dim)
    total[total == 0] = 1  # only all -inf rows sum to 0
    out = e
    out /= total

    def backward(g: np.ndarray) -> None:
        gy = g * out  # dL/dx = y * (g - sum(g * y))
        gy -= out * sum_keepdim(gy, dim)
        x._accumulate(gy)

    return Tensor._op(out, (x,), backward)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along dim, stable for large logits. -inf entries stay -inf, and a row
    that is all -inf gives NaN, both as in torch."""
    _, total, peak = _stable_exp(x.data, dim)
    with np.errstate(divide="ignore"):  # log(0) for an all -inf row: NaN follows, as in torch
        out = x.data - peak - np.log(total)

    def backward(g: np.ndarray) -> None:
        x._accumulate(g - np.exp(out) * sum_keepdim(g, dim))

    return Tensor._op(out, (x,), backward)


def cross_entropy(logits: Tensor, target: np.ndarray, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (..., V) against integer targets (...), as torch's.

    Targets equal to ignore_index (padding) add nothing to the loss and get no gradient;
    'mean' divides by the number of the others (0 of them gives NaN, as in torch).
    The backward is the closed form softmax - onehot, without materializing log-probs.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction={reduction!r} is not valid; choose one of: 'mean', 'sum', 'none'")
    V = logits.shape[-1]
    z = logits.data.reshape(-1, V)  # (N, V)
    t = np.asarray(target).reshape(-1)  # (N,)
    if t.shape[0] != z.shape[0]:
        raise ValueError(f"target of shape {np.shape(target)} does not match logits of shape {logits.shape}")
    keep = t != ignore_index
    if ((t < 0) | (t >= V))[keep].any():
        raise IndexError(f"targets must be in [0, {V}) or equal ignore_index={ignore_index}")
    t = np.where(keep, t, 0)  # any valid column for ignored rows; they are zeroed below
    rows = np.arange(len(t))
    e, total, peak = _stable_exp(z, 1)
    nll = (np.log(total[:, 0]) + peak[:, 0] - z[rows, t]) * keep  # (N,) -log p(target)
    n_kept = int(keep.sum())
    if reduction == "none":
        out = nll.reshape(np.shape(target))  # ignored positions hold 0, as in torch
    elif reduction == "sum":
        out = np.asarray(nll.sum())
    else:
        out = np.asarray(nll.sum() / n_kept if n_kept else np.nan, dtype=z.dtype)

    def backward(g: np.ndarray) -> None:
        if reduction == "none":
            w = g.reshape(-1) * keep  # (N,)
        else:
            w = keep * (g / n_kept if reduction == "mean" else g)  # (N,) weight of each row
        probs = e / total  # (N, V)
        probs[rows, t] -= 1.0
        probs *= w[:, None]
        logits._accumulate(probs.reshape(logits.shape))

    return Tensor._op(out, (logits,), backward)


def embedding(idx: np.ndarray, weight: Tensor) -> Tensor:
    """Rows of weight (V, D) picked by integer idx (...) -> (..., D).

    A token that appears several times gets the sum of all its gradients (as np.add.at would
    give; `grad[idx] += g` would keep only one of them).
    """
    idx = np.asarray(idx)
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise IndexError(f"embedding ids must be in [0, {weight.shape[0]}); got {idx.min()}..{idx.max()}")

    def backward(g: np.ndarray) -> None:
        weight._accumulate(sum_rows_by_index(idx.reshape(-1), g.reshape(-1, weight.shape[1]), weight.shape[0]))

    return Tensor._op(weight.data[idx], (weight,), backward)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each entry with probability p and scale the rest by 1/(1-p) (inverted dropout),
    so that evaluation needs no rescaling. Identity when not training or p = 0."""
    if not training or p == 0.0:
        return x
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout p={p!r} is not valid; it must be in [0, 1)")
    mask = (_rng.random(x.shape, dtype=np.float32) >= p) * x.dtype.type(1.0 / (1.0 - p))
    return x * Tensor(mask.astype(x.dtype, copy=False))


def layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last dim (biased variance, as torch)."""
    a = x.data
    inv_n = a.dtype.type(1.0 / a.shape[-1])
    centred = a - sum_last(a) * inv_n
    rstd = 1.0 / np.sqrt(sum_last(centred * centred) * inv_n + a.dtype.type(eps))  # (..., 1)
    xhat = centred
    xhat *= rstd
    out = xhat * weight.data if weight is not None else xhat.copy()
    if bias is not None:
        out += bias.data

    def backward(g: np.ndarray) -> None:
        if weight is not None and weight.requires_grad:
            weight._accumulate(sum_leading(g * xhat))
        if bias is not None and bias.requires_grad:
            bias._accumulate(sum_leading(g))
        if x.requires_grad:
            gx = g * weight.data if weight is not None else g.copy()  # dL/dxhat
            # dL/dx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))
            proj = sum_last(gx * xhat) * inv_n
            gx -= sum_last(gx) * inv_n
            gx -= xhat * proj
            gx *= rstd
            x._accumulate(gx)

    parents = tuple(t for t in (x, weight, bias) if t is not None)
    return Tensor._op(out, parents, backward)

