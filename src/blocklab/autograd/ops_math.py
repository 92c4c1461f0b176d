"""Arithmetic, matmul, reductions and elementwise math: each an output plus a closure adding its gradient.

Binary ops broadcast as numpy does; `unbroadcast` sums each gradient back to its input's shape.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, unbroadcast


def add(a: Tensor, b: Tensor) -> Tensor:
    def backward(g: np.ndarray) -> None:
        if a.requires_grad:
            a._accumulate(unbroadcast(g, a.shape))
        if b.requires_grad:
            b._accumulate(unbroadcast(g, b.shape))

    return Tensor._op(a.data + b.data, (a, b), backward)


def mul(a: Tensor, b: Tensor) -> Tensor:
    def backward(g: np.ndarray) -> None:
        if a.requires_grad:
            a._accumulate(unbroadcast(g * b.data, a.shape))
        if b.requires_grad:
            b._accumulate(unbroadcast(g * a.data, b.shape))

    return Tensor._op(a.data * b.data, (a, b), backward)


def div(a: Tensor, b: Tensor) -> Tensor:
    out = a.data / b.data

    def backward(g: np.ndarray) -> None:
        g_over_b = g / b.data
        if a.requires_grad:
            a._accumulate(unbroadcast(g_over_b, a.shape))
        if b.requires_grad:
            b._accumulate(unbroadcast(-g_over_b * out, b.shape))  # d(a/b)/db = -(a/b)/b

    return Tensor._op(out, (a, b), backward)


def neg(a: Tensor) -> Tensor:
    return Tensor._op(-a.data, (a,), lambda g: a._accumulate(-g))


def pow(a: Tensor, exponent: float) -> Tensor:
    """a ** exponent for a constant exponent (x ** 2, x ** -0.5)."""
    if isinstance(exponent, Tensor):
        raise TypeError("the exponent must be a number; use exp(log(x) * y) for a tensor exponent")
    p = float(exponent)
    return Tensor._op(a.data**p, (a,), lambda g: a._accumulate(g * (p * a.data ** (p - 1.0))))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """As np.matmul: 1-D to n-D, leading (batch) dimensions broadcast.

    (..., M, K) @ (K, N) -- a Linear layer's case -- runs as one (rows, K) @ (K, N) GEMM over
    all leading rows, which is much faster than np.matmul's loop over the batch, and its
    weight gradient is one GEMM too instead of a batch of them summed afterwards.
    """
    ad, bd = a.data, b.data
    if bd.ndim == 2 and ad.ndim > 2:
        rows = ad.reshape(-1, ad.shape[-1])  # (B*T, K)
        out = (rows @ bd).reshape(*ad.shape[:-1], bd.shape[1])  # (..., N)

        def backward_rows(g: np.ndarray) -> None:
            g_rows = g.reshape(-1, g.shape[-1])  # (B*T, N)
            if a.requires_grad:
                a._accumulate((g_rows @ bd.T).reshape(ad.shape))
            if b.requires_grad:
                b._accumulate(rows.T @ g_rows)

        return Tensor._op(out, (a, b), backward_rows)

    # A 1-D operand is a row (left) or column (right) vector; the extra axis is dropped after.
    a2 = ad[None, :] if ad.ndim == 1 else ad  # (..., M, K)
    b2 = bd[:, None] if bd.ndim == 1 else bd  # (..., K, N)
    out2 = a2 @ b2  # (..., M, N)
    shape = list(out2.shape)
    if bd.ndim == 1:
        shape.pop(-1)
    if ad.ndim == 1:
        shape.pop(-1 if bd.ndim == 1 else -2)

    def backward(g: np.ndarray) -> None:
        g2 = g.reshape(out2.shape)
        if a.requires_grad:
            a._accumulate(unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(ad.shape))
        if b.requires_grad:
            b._accumulate(unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(bd.shape))

    return Tensor._op(out2.reshape(shape), (a, b), backward)


def _axes(dim, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    return tuple(d % ndim for d in ((dim,) if isinstance(dim, int) else dim))


def _expand(g: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    """Put back the reduced axes as size 1, so g broadcasts against the input."""
    return g if keepdim else np.expand_dims(g, axes)


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = _axes(dim, x.ndim)

    def backward(g: np.ndarray) -> None:
        x._accumulate(np.broadcast_to(_expand(g, axes, keepdim), x.shape))

    return Tensor._op(x.data.sum(axis=axes, keepdims=keepdim), (x,), backward)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = _axes(dim, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))

    def backward(g: np.ndarray) -> None:
        x._accumulate(np.broadcast_to(_expand(g, axes, keepdim) / count, x.shape))

    return Tensor._op(x.data.mean(axis=axes, keepdims=keepdim), (x,), backward)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Maximum over `dim` (all axes if None).

    Ties: the gradient is split equally among the entries that equal the maximum, as
    torch.amax does (and torch.max() without a dim). max([1, 3, 3]) sends g/2 to each 3.
    This is the subgradient that treats the tied entries symmetrically; torch.max(x, dim)
    instead sends all of it to the one index it returns.
    """
    axes = _axes(dim, x.ndim)
    peak = x.data.max(axis=axes, keepdims=True)

    def backward(g: np.ndarray) -> None:
        winners = x.data == peak
        share = _expand(g, axes, keepdim) / winners.sum(axis=axes, keepdims=True, dtype=x.dtype)
        x._accumulate(np.where(winners, share, 0))

    return Tensor._op(peak if keepdim else peak.squeeze(axes), (x,), backward)


def exp(x: Tensor) -> Tensor:
    out = np.exp(x.data)
    return Tensor._op(out, (x,), lambda g: x._accumulate(g * out))


def log(x: Tensor) -> Tensor:
    return Tensor._op(np.log(x.data), (x,), lambda g: x._accumulate(g / x.data))


def sqrt(x: Tensor) -> Tensor:
    out = np.sqrt(x.data)
    return Tensor._op(out, (x,), lambda g: x._accumulate(g * 0.5 / out))


def tanh(x: Tensor) -> Tensor:
    out = np.tanh(x.data)
    return Tensor._op(out, (x,), lambda g: x._accumulate(g * (1.0 - out * out)))


def relu(x: Tensor) -> Tensor:
    """max(x, 0); the gradient at exactly 0 is 0, as in torch."""
    return Tensor._op(np.maximum(x.data, 0), (x,), lambda g: x._accumulate(g * (x.data > 0)))
