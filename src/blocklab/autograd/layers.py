"""The layers of a GPT on the numpy engine: Linear, Embedding, LayerNorm, Dropout,
causal multi-head attention and the feed-forward network.

Shapes: B batch, T positions, D model width, H heads, Dh head width (D // H), V vocabulary.
Parameter names and layouts follow torch and blocklab.nn (Linear weight is (out, in)).
"""
from __future__ import annotations

import math

import numpy as np

from . import functional as F
from .module import Module, Parameter
from .tensor import Tensor


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float, dtype) -> Parameter:
    return Parameter(rng.normal(0.0, std, size=shape).astype(dtype))


class Linear(Module):
    """x @ weight.T + bias.   (..., in) -> (..., out)"""

    def __init__(self, d_in: int, d_out: int, bias: bool, rng: np.random.Generator, std: float, dtype) -> None:
        self.weight = _normal(rng, (d_out, d_in), std, dtype)
        self.bias = Parameter(np.zeros(d_out, dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(Module):
    """Integer ids (...) -> rows of weight (..., D)."""

    def __init__(self, n: int, dim: int, rng: np.random.Generator, std: float, dtype) -> None:
        self.weight = _normal(rng, (n, dim), std, dtype)

    def forward(self, idx: np.ndarray) -> Tensor:
        return F.embedding(idx, self.weight)


class LayerNorm(Module):
    def __init__(self, dim: int, eps: float, dtype) -> None:
        self.eps = eps
        self.weight = Parameter(np.ones(dim, dtype))
        self.bias = Parameter(np.zeros(dim, dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.weight, self.bias, self.eps)


class Dropout(Module):
    def __init__(self, p: float) -> None:
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)


class MultiHeadAttention(Module):
    """Causal self-attention: softmax(q k^T / sqrt(Dh) + causal mask) v, all heads in one batched matmul."""

    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        D, std = cfg.d_model, cfg.init_std
        self.n_heads, self.head_dim = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.q_proj = Linear(D, D, cfg.bias, rng, std, dtype)
        self.k_proj = Linear(D, D, cfg.bias, rng, std, dtype)
        self.v_proj = Linear(D, D, cfg.bias, rng, std, dtype)
        self.out_proj = Linear(D, D, cfg.bias, rng, std, dtype)
        p = cfg.dropout if cfg.attn_dropout is None else cfg.attn_dropout
        self.attn_drop = Dropout(p)
        # The same factor blocklab.nn applies to the scores; applied to q here, which is smaller.
        self.scale = (1.0 / math.sqrt(self.head_dim) if cfg.attn_scale else 1.0) / cfg.attn_temperature
        self.dtype = np.dtype(dtype)
        self._masks: dict[int, np.ndarray] = {}

    def causal_mask(self, T: int) -> np.ndarray:
        """(T, T): 0 where query i may see key j (j <= i), -inf above the diagonal.

        Added to the scores rather than written with masked_fill: one addition is several
        times faster than np.where, and its gradient passes through unchanged.
        """
        if T not in self._masks:
            self._masks[T] = np.triu(np.full((T, T), -np.inf, self.dtype), k=1)
        return self._masks[T]

    def _heads(self, x: Tensor, B: int, T: int) -> Tensor:
        return x.reshape(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

    def forward(self, x: Tensor) -> Tensor:
        B, T, D = x.shape
        q = self._heads(self.q_proj(x) * self.scale, B, T)  # (B, H, T, Dh)
        k = self._heads(self.k_proj(x), B, T)
        v = self._heads(self.v_proj(x), B, T)
        scores = q @ k.transpose(-2, -1)  # (B, H, T, T)
        weights = self.attn_drop(F.softmax(scores + self.causal_mask(T), dim=-1))  # (B, H, T, T)
        z = weights @ v  # (B, H, T, Dh)
        return self.out_proj(z.transpose(1, 2).reshape(B, T, D))  # heads side by side -> (B, T, D)


class FeedForward(Module):
    """down(dropout(act(up(x)))): D -> d_ff -> D with ReLU or exact (erf) GELU."""

    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        self.up = Linear(cfg.d_model, cfg.d_ff, cfg.bias, rng, cfg.init_std, dtype)
        self.down = Linear(cfg.d_ff, cfg.d_model, cfg.bias, rng, cfg.init_std, dtype)
        self.drop = Dropout(cfg.dropout)
        self.act = F.gelu if cfg.activation == "gelu" else F.relu

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.drop(self.act(self.up(x))))  # (B, T, d_ff) inside
