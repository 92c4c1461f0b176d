"""Ops that move values around without arithmetic: reshape, transpose, permute, indexing,
concat, split, masked_fill, where. Their gradients route g back to where each value came from."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .tensor import Tensor, unbroadcast


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    return Tensor._op(x.data.reshape(shape), (x,), lambda g: x._accumulate(g.reshape(x.shape)))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    return Tensor._op(np.swapaxes(x.data, dim0, dim1), (x,), lambda g: x._accumulate(np.swapaxes(g, dim0, dim1)))


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    inverse = np.argsort(dims)
    return Tensor._op(np.transpose(x.data, dims), (x,), lambda g: x._accumulate(np.transpose(g, inverse)))


def _is_basic(index) -> bool:
    """Slices, ints, None and ... only: each input entry is picked at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def getitem(x: Tensor, index) -> Tensor:
    """x[index] with numpy's rules. With integer-array indices an entry may be picked more
    than once (x[[0, 0]]); np.add.at then adds every pick's gradient, where plain
    `grad[index] += g` would keep only the last."""
    if isinstance(index, Tensor):
        index = index.data
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    basic = _is_basic(index)

    def backward(g: np.ndarray) -> None:
        full = np.zeros_like(x.data)
        if basic:
            full[index] = g
        else:
            np.add.at(full, index, g)
        x._accumulate(full)

    return Tensor._op(x.data[index], (x,), backward)


def concat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    ends = np.cumsum([t.shape[dim] for t in tensors])[:-1]

    def backward(g: np.ndarray) -> None:
        for t, piece in zip(tensors, np.split(g, ends, axis=dim)):
            if t.requires_grad:
                t._accumulate(piece)

    return Tensor._op(np.concatenate([t.data for t in tensors], axis=dim), tensors, backward)


def split(x: Tensor, split_size: int | Sequence[int], dim: int = 0) -> list[Tensor]:
    """As torch.split: pieces of `split_size` along dim (the last may be shorter), or the given sizes."""
    n = x.shape[dim]
    if isinstance(split_size, int):
        sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
    else:
        sizes = list(split_size)
    if sum(sizes) != n:
        raise ValueError(f"split sizes {sizes} do not add up to {n}, the size of dim {dim}")
    starts = np.cumsum([0] + sizes[:-1])
    lead = (slice(None),) * (dim % x.ndim)
    return [getitem(x, lead + (slice(int(s), int(s) + size),)) for s, size in zip(starts, sizes)]


def masked_fill(x: Tensor, mask: np.ndarray, value: float) -> Tensor:
    """value where mask is True (mask broadcasts against x); those entries get no gradient."""
    mask = np.asarray(mask, dtype=bool)
    out = np.where(mask, x.dtype.type(value), x.data)
    return Tensor._op(out, (x,), lambda g: x._accumulate(unbroadcast(np.where(mask, 0, g), x.shape)))


def where(condition: np.ndarray, a, b) -> Tensor:
    """a where condition is True, else b; each side's gradient is g where it was chosen."""
    condition = np.asarray(condition, dtype=bool)
    like = a if isinstance(a, Tensor) else b
    a, b = like._lift(a), like._lift(b)

    def backward(g: np.ndarray) -> None:
        if a.requires_grad:
            a._accumulate(unbroadcast(np.where(condition, g, 0), a.shape))
        if b.requires_grad:
            b._accumulate(unbroadcast(np.where(condition, 0, g), b.shape))

    return Tensor._op(np.where(condition, a.data, b.data), (a, b), backward)
