"""Sums written as matrix-vector products.

numpy's reductions over a short contiguous axis (a softmax row of 64, a LayerNorm row of 32,
a bias gradient over 2,048 rows) run several times slower than the same sum done by BLAS as
`rows @ ones`. The fused ops in functional.py spend much of their time in such sums.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def sum_last(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=-1, keepdims=True).   (..., n) -> (..., 1)"""
    n = a.shape[-1]
    return (a.reshape(-1, n) @ _ones(n, a.dtype)).reshape(*a.shape[:-1], 1)


def sum_keepdim(a: np.ndarray, dim: int) -> np.ndarray:
    """a.sum(axis=dim, keepdims=True), through sum_last when dim is the last axis."""
    return sum_last(a) if dim in (-1, a.ndim - 1) else a.sum(axis=dim, keepdims=True)


def sum_leading(a: np.ndarray) -> np.ndarray:
    """Sum over every axis but the last, as a bias gradient needs.   (..., n) -> (n,)"""
    rows = a.reshape(-1, a.shape[-1])
    return _ones(rows.shape[0], a.dtype) @ rows


def sum_rows_by_index(idx: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """out[i] = sum of rows[j] over all j with idx[j] == i.   idx (N,), rows (N, D) -> (n, D)

    An embedding's gradient: a token seen k times gets k rows added. np.add.at(out, idx, rows)
    says exactly this but runs row by row; sorting the ids and summing each run of equal ids
    with one np.add.reduceat is about five times faster.
    """
    out = np.zeros((n, rows.shape[1]), rows.dtype)
    if len(idx) == 0:
        return out
    order = np.argsort(idx, kind="stable")
    ids = idx[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # first position of each distinct id
    out[ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out
