"""Encoder and decoder blocks and their stacks, built from one `Residual` wrapper.

A block is up to three sublayers (mixer, cross-attention, FFN), each wrapped by `Residual`:

    pre-norm:   x = scale * x + dropout(f(norm(x)))
    post-norm:  x = norm(scale * x + dropout(f(x)))

with the `scale * x` term dropped when residual=False. Removing attention, the FFN,
the norm or the residual is a config value; the block code has no special cases.
Shapes: B batch, T positions, S memory positions, D model width.

Gradient checkpointing (`set_grad_checkpointing(model, True)`, or TrainConfig.grad_checkpointing)
keeps only each block's input during the forward pass and recomputes the block during
backward: activation memory falls from one set per block to one set per model, for
about one extra forward pass of compute. Dropout draws the same masks again (the RNG
state is saved with the input). A block with a hook attached, or one filling a KV cache,
runs normally: hooks are removed before backward, and a cache must not be appended twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..errors import BlocklabError
from .attention import KVCache, MeanMixer, MultiHeadAttention
from .config import BlockConfig
from .ffn import FeedForward
from .hooks import HookPoint
from .norms import build_norm


@dataclass
class Context:
    """Everything a block needs besides x, computed once per forward pass by the model."""

    pos: torch.Tensor  # (T,) absolute positions of x
    is_causal: bool = False
    attn_mask: torch.Tensor | None = None
    key_padding_mask: torch.Tensor | None = None  # (B, T) True = padding
    bias: torch.Tensor | None = None  # (H, T, S) position bias: ALiBi, T5, KERPLE, FIRE
    rope: tuple[torch.Tensor, torch.Tensor] | None = None  # cos, sin (T, Dh)
    cache: KVCache | None = None
    memory: torch.Tensor | None = None  # (B, S, D) encoder output, for cross-attention
    memory_key_padding_mask: torch.Tensor | None = None  # (B, S)


def add_residual(x: torch.Tensor, fx: torch.Tensor, scale: float) -> torch.Tensor:
    """scale * x + f(x), with a clear error when a sublayer changed the width."""
    if x.shape != fx.shape:
        raise BlocklabError(
            f"residual connection needs matching shapes, got input {tuple(x.shape)} and sublayer "
            f"output {tuple(fx.shape)}; project the input to the output width first"
        )
    return x + fx if scale == 1.0 else scale * x + fx  # no multiply by 1 over every activation (~2% of a CPU step)


class Residual(nn.Module):
    """Wraps one sublayer function with norm, dropout and the residual, in the configured order."""

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.norm, self.drop = build_norm(cfg), nn.Dropout(cfg.dropout)
        self.pre, self.residual, self.scale = cfg.norm_position == "pre", cfg.residual, cfg.residual_scale

    def forward(self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], hook: HookPoint) -> torch.Tensor:
        fx = hook(self.drop(fn(self.norm(x) if self.pre else x)))  # (B, T, D) what the sublayer adds
        y = add_residual(x, fx, self.scale) if self.residual else fx
        return y if self.pre else self.norm(y)


def build_mixer(cfg: BlockConfig, cache_key: str) -> nn.Module | None:
    if cfg.mixer == "attention":
        return MultiHeadAttention(cfg, cache_key)
    if cfg.mixer == "mean":
        return MeanMixer(cfg, cache_key)
    return None


class Block(nn.Module):
    """Self-mixing, optional cross-attention, FFN. Encoder and GPT blocks have no cross-attention;
    decoder blocks do. Hook names follow TransformerLens."""

    def __init__(self, cfg: BlockConfig, index: int, cross: bool = False) -> None:
        super().__init__()
        self.attn = build_mixer(cfg, f"{index}.self")
        self.cross_attn = MultiHeadAttention(cfg, f"{index}.cross", cross=True) if cross else None
        self.mlp = FeedForward(cfg) if cfg.ffn else None
        self.res_attn = Residual(cfg) if self.attn is not None else None
        self.res_cross = Residual(cfg) if cross else None
        self.res_mlp = Residual(cfg) if cfg.ffn else None
        self.hook_resid_pre = HookPoint()  # (B, T, D)
        self.hook_attn_out = HookPoint()  # (B, T, D) what self-attention adds to the stream
        self.hook_cross_out = HookPoint() if cross else None  # (B, T, D) what cross-attention adds
        self.hook_resid_mid = HookPoint()  # (B, T, D) after attention, before the FFN
        self.hook_mlp_out = HookPoint()  # (B, T, D) what the FFN adds
        self.hook_resid_post = HookPoint()  # (B, T, D)
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled() and ctx.cache is None and not self._hooked():
            return checkpoint(self._forward, x, ctx, use_reentrant=False)
        return self._forward(x, ctx)

    def _hooked(self) -> bool:
        return any(m.active for m in self.modules() if isinstance(m, HookPoint))

    def _forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        x = self.hook_resid_pre(x)
        if self.attn is not None:
            x = self.res_attn(x, lambda h: self.attn(
                h, attn_mask=ctx.attn_mask, key_padding_mask=ctx.key_padding_mask, is_causal=ctx.is_causal,
                bias=ctx.bias, rope=ctx.rope, pos=ctx.pos, cache=ctx.cache)[0], self.hook_attn_out)
        if self.cross_attn is not None:
            x = self.res_cross(x, lambda h: self.cross_attn(
                h, ctx.memory, key_padding_mask=ctx.memory_key_padding_mask, pos=ctx.pos, cache=ctx.cache)[0],
                self.hook_cross_out)
        x = self.hook_resid_mid(x)
        if self.mlp is not None:
            x = self.res_mlp(x, self.mlp, self.hook_mlp_out)
        return self.hook_resid_post(x)


class Blocks(nn.ModuleList):
    """Blocks applied in order, each reading the same Context. A ModuleList, so that a model
    holding it as `blocks` names its layers blocks.0, blocks.1, ... (parameters and hooks)."""

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        for block in self:
            x = block(x, ctx)
        return x


def final_norm(cfg: BlockConfig) -> nn.Module:
    """The norm after the last block (pre-norm stacks need one); Identity where there is none."""
    return build_norm(cfg) if cfg.use_final_norm else nn.Identity()


class Stack(nn.Module):
    """N blocks and, for pre-norm stacks, a final norm. GPT and EncoderClassifier hold the same
    two parts as `blocks` and `norm_f`, the names their checkpoints and hook paths use."""

    def __init__(self, cfg: BlockConfig, n_layers: int, cross: bool = False) -> None:
        super().__init__()
        self.blocks = Blocks(Block(cfg, i, cross) for i in range(n_layers))
        self.norm = final_norm(cfg)

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        return self.norm(self.blocks(x, ctx))


def set_grad_checkpointing(model: nn.Module, enabled: bool) -> bool:
    """Turn gradient checkpointing on or off in every Block of `model`; returns the previous
    setting (True if any block had it). A model without blocklab Blocks is refused."""
    blocks = [m for m in model.modules() if isinstance(m, Block)]
    if not blocks:
        raise BlocklabError(f"gradient checkpointing recomputes blocklab Blocks, and {type(model).__name__} has none; "
                            "set grad_checkpointing=False for this model")
    before = any(b.grad_checkpointing for b in blocks)
    for b in blocks:
        b.grad_checkpointing = enabled
    return before
