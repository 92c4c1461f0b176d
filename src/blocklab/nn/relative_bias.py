"""Learned relative position biases: T5's buckets, KERPLE-log, FIRE.

Each adds an (H, Tq, Tk) term to the attention scores, like ALiBi, but learns its shape.
One bias is computed per forward pass and shared by every layer of the stack, as T5
does; a seq2seq model's encoder and decoder each have their own. All three depend on
positions only through i - j (FIRE also through the query's own position i, which it
uses to normalize), so a KV cache passes the offset positions and nothing else changes.
Shapes: H heads, Tq query positions (i), Tk key positions (j).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .positional import PositionalEncoding


def t5_buckets(relative: torch.Tensor, n_buckets: int, max_distance: int, causal: bool) -> torch.Tensor:
    """Bucket of each key-minus-query offset j - i, as in T5 (Raffel et al., 2020).  (...) long -> (...) long

    Causal: every bucket serves the past (n = i - j >= 0; the future, masked anyway, joins
    bucket 0). Bidirectional: half the buckets serve keys after the query, half before.
    Within a direction, half its buckets hold the distances 0, 1, ... exactly, and the rest
    split [exact, max_distance) into log-spaced ranges; distances beyond share the last bucket.
    """
    n = -relative
    offset = torch.zeros_like(n)
    if causal:
        n = n.clamp(min=0)
    else:
        n_buckets //= 2
        offset = (n < 0).long() * n_buckets  # keys after the query take the upper half
        n = n.abs()
    exact = n_buckets // 2
    # clamp: log(0) is never taken, and the branch `where` discards holds no -inf to cast
    log_ratio = torch.log(n.clamp(min=exact).double() / exact) / math.log(max_distance / exact)
    far = (exact + (log_ratio * (n_buckets - exact)).long()).clamp(max=n_buckets - 1)
    return offset + torch.where(n < exact, n, far)


class T5Bias(PositionalEncoding):
    """A learned scalar per head per bucket of j - i (T5's relative attention bias)."""

    adds_bias = True

    def __init__(self, n_heads: int, n_buckets: int, max_distance: int, causal: bool) -> None:
        super().__init__()
        self.n_buckets, self.max_distance, self.causal = n_buckets, max_distance, causal
        self.table = nn.Embedding(n_buckets, n_heads)

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        relative = k_pos[None, :] - q_pos[:, None]  # (Tq, Tk)
        buckets = t5_buckets(relative, self.n_buckets, self.max_distance, self.causal)
        return self.table(buckets).permute(2, 0, 1)  # (Tq, Tk, H) -> (H, Tq, Tk)


class KerpleLog(PositionalEncoding):
    """KERPLE's logarithmic kernel (Chi et al., 2022): bias -r1 * log(1 + r2 * |i - j|), r1, r2 > 0 per head.

    r = exp(log_r) keeps both positive without clamping. They start at r1 = 1 and r2 spread
    over [1/64, 1] in log space, so heads start at different horizons, as ALiBi's slopes do.
    """

    adds_bias = True

    def __init__(self, n_heads: int) -> None:
        super().__init__()
        self.log_r1 = nn.Parameter(torch.zeros(n_heads))
        self.log_r2 = nn.Parameter(torch.linspace(0.0, math.log(1 / 64), n_heads))

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        distance = (q_pos[:, None] - k_pos[None, :]).abs().to(self.log_r1.dtype)  # (Tq, Tk)
        r1, r2 = self.log_r1.exp()[:, None, None], self.log_r2.exp()[:, None, None]
        return -r1 * torch.log1p(r2 * distance)  # (H, Tq, Tk)


class Fire(PositionalEncoding):
    """FIRE (Li et al., 2023): bias_h(i, j) = f_h(psi(i - j) / psi(max(L, i))), psi(x) = log(c x + 1).

    f is an MLP 1 -> width (ReLU) -> H: a hidden layer shared by the heads, one output each.
    The input lies in [0, 1] for every visible key (0 <= i - j <= i), so a model trained on
    short inputs sees the same input range on long ones: FIRE interpolates rather than
    extrapolates once i > L. c > 0 and L > 0 are learned through their logs, from the paper's
    c = 0.1 and L = 512. The paper defines FIRE for causal attention; in an encoder blocklab
    uses |i - j| (the symmetric variant, as ALiBi does), which changes nothing where j <= i.
    """

    adds_bias = True

    def __init__(self, n_heads: int, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, n_heads))
        self.log_c = nn.Parameter(torch.tensor(math.log(0.1)))
        self.log_threshold = nn.Parameter(torch.tensor(math.log(512.0)))

    def normalized_distance(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """psi(|i - j|) / psi(max(L, i)).  (Tq,), (Tk,) -> (Tq, Tk)"""
        c, dtype = self.log_c.exp(), self.log_c.dtype
        distance = (q_pos[:, None] - k_pos[None, :]).abs().to(dtype)  # (Tq, Tk)
        horizon = torch.maximum(self.log_threshold.exp(), q_pos.to(dtype))[:, None]  # (Tq, 1): max(L, i)
        return torch.log1p(c * distance) / torch.log1p(c * horizon)

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        x = self.normalized_distance(q_pos, k_pos)[..., None]  # (Tq, Tk, 1)
        return self.mlp(x).permute(2, 0, 1)  # (Tq, Tk, H) -> (H, Tq, Tk)
