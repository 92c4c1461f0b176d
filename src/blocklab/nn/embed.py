"""Token embeddings plus positions: what every model puts in front of its blocks."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import BlocklabError
from .attention import MeanMixer, MultiHeadAttention
from .blocks import Context
from .config import BlockConfig
from .ffn import FeedForward
from .hooks import HookPoint
from .positional import (
    ALiBi,
    DigitPlaces,
    Learned,
    PositionalEncoding,
    RoPE,
    Sinusoidal,
)
from .relative_bias import Fire, KerpleLog, T5Bias


def build_positional(cfg: BlockConfig, causal: bool) -> PositionalEncoding:
    """Resolve cfg.pos_encoding once, when the model is built. `causal`: the stack it serves
    masks the future (T5 then spends all its buckets on the past)."""
    kind = cfg.pos_encoding
    if kind == "sinusoidal":
        return Sinusoidal(cfg.d_model, cfg.max_len, cfg.pos_base)
    if kind == "learned":
        return Learned(cfg.d_model, cfg.max_len, cfg.learned_overflow)
    if kind in ("abacus", "coupling"):
        return DigitPlaces(cfg.d_model, cfg.max_len, cfg.learned_overflow, cfg.pos_offset_max, kind)
    if kind == "alibi":
        return ALiBi(cfg.n_heads)
    if kind == "rope":
        return RoPE(cfg.head_dim, cfg.pos_base)
    if kind == "t5":
        return T5Bias(cfg.n_heads, cfg.t5_buckets, cfg.t5_max_distance, causal)
    if kind == "kerple":
        return KerpleLog(cfg.n_heads)
    if kind == "fire":
        return Fire(cfg.n_heads, cfg.fire_width)
    return PositionalEncoding()


class Embedder(nn.Module):
    """tokens (B, T) -> (B, T, D), and the per-pass position context for the blocks.

    With scale_embeddings the token vectors are multiplied by sqrt(D) (Vaswani et al.).
    With init_std 0.02 this narrows the gap to the sinusoidal table (entries in [-1, 1])
    without closing it: at D = 64 the token RMS is 0.16 against the table's 0.71 (study
    `sentiment` measures the ratio, claim C003-04).
    """

    def __init__(self, cfg: BlockConfig, vocab_size: int, causal: bool = False) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, cfg.d_model)
        self.kind, self.pos = cfg.pos_encoding, build_positional(cfg, causal)
        self.randomize_max = cfg.pos_randomize_max
        self.scale = math.sqrt(cfg.d_model) if cfg.scale_embeddings else 1.0
        self.drop = nn.Dropout(cfg.dropout)
        self.hook_embed = HookPoint()  # (B, T, D) token embeddings, after scaling
        self.hook_pos_embed = HookPoint()  # (B, T, D) tokens plus additive positions
        # (H, T, S) what the encoding adds to every layer's scores; only encodings that add one have it
        self.hook_pos_bias = HookPoint() if self.pos.adds_bias else None

    def positions(self, start: int, T: int, device: torch.device, cached: bool = False) -> torch.Tensor:
        """Positions of T tokens following `start` earlier ones: start..start+T-1.  -> (T,)

        With pos_randomize_max = M, a training pass without a KV cache instead takes a sorted
        random subset of range(M) (Ruoss et al., 2023), drawn from torch's global RNG (so
        torch.manual_seed reproduces it) and shared by the rows of the batch, so one (H, T, T)
        bias serves them all. Evaluation, and decoding through a cache, use 0..T-1: the model
        has then seen every position up to M, and lengths up to M are in range.
        """
        if self.randomize_max is None or not self.training or cached:
            return torch.arange(start, start + T, device=device)
        if T > self.randomize_max:
            raise BlocklabError(f"cannot draw {T} distinct positions below pos_randomize_max={self.randomize_max}; "
                                f"use inputs of at most {self.randomize_max} tokens or a larger pos_randomize_max")
        return torch.randperm(self.randomize_max, device=device)[:T].sort().values  # (T,) increasing

    def forward(self, idx: torch.Tensor, pos: torch.Tensor, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """`pos` (T,), or (B, T) per-token positions from a task; `prefix` (B, P, D) are vectors placed
        before the tokens (a classifier's CLS), and pos covers both."""
        if pos.dim() == 2 and not self.pos.per_token:
            raise BlocklabError(
                f"pos_encoding={self.kind!r} takes its positions from the token order, so per-token positions "
                "would be ignored; pass positions only with pos_encoding 'learned', 'sinusoidal', 'abacus' "
                "or 'coupling'"
            )
        x = self.hook_embed(self.tok(idx) * self.scale)  # (B, T, D)
        if prefix is not None:
            x = torch.cat([prefix, x], dim=1)  # (B, P + T, D)
        return self.drop(self.hook_pos_embed(self.pos.embed(x, pos)))

    def context(self, pos: torch.Tensor, k_pos: torch.Tensor | None = None, **kwargs) -> Context:
        """Positions of this pass's queries (T,) and keys (S,) -> Context with the bias and RoPE angles it needs."""
        k_pos = pos if k_pos is None else k_pos
        bias = self.pos.bias(pos, k_pos)
        if self.hook_pos_bias is not None:
            bias = self.hook_pos_bias(bias)
        return Context(pos=pos, bias=bias, rope=self.pos.rotary(pos), **kwargs)


def init_weights(module: nn.Module, std: float, zero_branch_output: bool = False) -> None:
    """Normal(0, std) for every Linear and Embedding weight, zero biases (GPT-2's scheme).

    zero_branch_output: the last Linear of every residual branch (a mixer's output projection, the
    FFN's down projection) starts at zero instead, so each block starts as the identity and the first
    updates grow the branches from there (the modded-nanogpt speedruns' init)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=std)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
    if zero_branch_output:
        for m in module.modules():
            last = {MultiHeadAttention: "out_proj", MeanMixer: "proj", FeedForward: "down"}.get(type(m))
            if last is not None:
                nn.init.zeros_(getattr(m, last).weight)
