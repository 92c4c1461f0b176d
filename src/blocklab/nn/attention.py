"""Scaled dot-product attention, multi-head attention with a KV cache, and the mean mixer.

Shapes: B batch, T query positions, S key positions, D model width,
H query heads, Hkv key/value heads, Dh head width (D // H).

Mask conventions (the two PyTorch ones, each under the name PyTorch uses for it):
  attn_mask        bool (T, S) or broadcastable: True = may attend (as F.scaled_dot_product_attention),
                   or float: added to the scores (use -inf to forbid).
  key_padding_mask bool (B, S): True = padding, never attended (as nn.MultiheadAttention).

A query row whose keys are all masked has no distribution to take. blocklab defines its
weights and its output as zeros (never NaN), on both the explicit and the fused path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BlocklabError
from .config import BlockConfig
from .hooks import HookPoint
from .norms import LayerNorm, RMSNorm
from .positional import apply_rotary


def combine_masks(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    is_causal: bool,
    q_pos: torch.Tensor | None,
    k_pos: torch.Tensor | None,
    bias: torch.Tensor | None,
    T: int,
    S: int,
    device: torch.device,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Fold every way of masking into (allowed, additive): bool (B|1, H|1, T, S) and float bias."""
    allowed = None
    additive = bias  # (H, T, S) from ALiBi, or None
    if is_causal:
        q = q_pos if q_pos is not None else torch.arange(S - T, S, device=device)
        k = k_pos if k_pos is not None else torch.arange(S, device=device)
        allowed = k[None, :] <= q[:, None]  # (T, S)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            allowed = attn_mask if allowed is None else allowed & attn_mask
        else:
            additive = attn_mask if additive is None else additive + attn_mask
    if allowed is not None:
        while allowed.dim() < 4:
            allowed = allowed.unsqueeze(0)
    if key_padding_mask is not None:
        keep = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
        allowed = keep if allowed is None else allowed & keep
    return allowed, additive


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    attn_mask: torch.Tensor | None = None,
    key_padding_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    bias: torch.Tensor | None = None,
    q_pos: torch.Tensor | None = None,
    k_pos: torch.Tensor | None = None,
    scale: bool = True,
    temperature: float = 1.0,
    dropout_p: float = 0.0,
    need_weights: bool = False,
    fused: bool | None = None,
    hook_scores: HookPoint | None = None,
    hook_pattern: HookPoint | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q k^T * scale / temperature + bias, masked) v.   q (B,H,T,Dh), k/v (B,H,S,Dh) -> (B,H,T,Dh)

    `fused=None` picks F.scaled_dot_product_attention whenever nothing needs the weights
    (no need_weights, no active score/pattern hook); `fused=False` forces the explicit path;
    `fused=True` forces the fused one and refuses requests that need the weights.
    Returns (output, weights) with weights (B,H,T,S) only on the explicit path.
    """
    T, S = q.shape[-2], k.shape[-2]
    factor = (1.0 / math.sqrt(q.shape[-1]) if scale else 1.0) / temperature
    hooked = any(h is not None and h.active for h in (hook_scores, hook_pattern))
    if fused and (need_weights or hooked):
        raise BlocklabError("fused=True cannot return attention weights or run score/pattern hooks; "
                            "use fused=None (explicit when needed) or fused=False")
    use_fused = (not need_weights and not hooked) if fused is None else fused
    if use_fused and is_causal and T == S and attn_mask is None and key_padding_mask is None and bias is None:
        # Plain causal self-attention: the kernel builds the mask itself, and no row is empty.
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p, scale=factor), None
    allowed, additive = combine_masks(attn_mask, key_padding_mask, is_causal, q_pos, k_pos, bias, T, S, q.device)

    empty = None  # (B|1, H|1, T, 1): rows where every key is masked, by one mask or by several together
    if allowed is not None or additive is not None:
        blocked = torch.zeros((), dtype=torch.bool, device=q.device)
        if allowed is not None:
            blocked = blocked | ~allowed
        if additive is not None:
            blocked = blocked | torch.isneginf(additive)
        empty = blocked.all(dim=-1, keepdim=True)
        while empty.dim() < 4:
            empty = empty.unsqueeze(0)

    if use_fused:
        mask = allowed
        if additive is not None:
            mask = additive.to(q.dtype) if allowed is None else additive.to(q.dtype).masked_fill(~allowed, -math.inf)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=factor)
        if empty is not None:
            out = out.masked_fill(empty, 0.0)
        return out, None

    scores = (q @ k.transpose(-2, -1)) * factor  # (B, H, T, S)
    if additive is not None:
        scores = scores + additive
    if allowed is not None:
        scores = scores.masked_fill(~allowed, -math.inf)
    if hook_scores is not None:
        scores = hook_scores(scores)
    if empty is not None:
        # Any finite constant gives the same (discarded) row; this one keeps softmax NaN-free.
        scores = scores.masked_fill(empty, 0.0)
    weights = scores.softmax(dim=-1)
    if empty is not None:
        weights = weights.masked_fill(empty, 0.0)
    if hook_pattern is not None:
        weights = hook_pattern(weights)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (B, H, T, Dh)


@dataclass
class KVCache:
    """Keys and values of every attention layer seen so far, for incremental decoding.

    Keys are stored after RoPE, so each position is rotated once, when it arrives.
    """

    keys: dict[str, torch.Tensor] = field(default_factory=dict)
    values: dict[str, torch.Tensor] = field(default_factory=dict)
    length: int = 0  # positions already in the cache (the offset of the next token)

    def update(self, layer: str, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if layer in self.keys:
            k = torch.cat([self.keys[layer], k], dim=-2)  # (B, Hkv, S_old + T, Dh)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class MultiHeadAttention(nn.Module):
    """Self- or cross-attention with H query heads and Hkv key/value heads (MQA/GQA).

    `head_mask` (H,) multiplies each head's output before the output projection: set an
    entry to 0 to ablate that head. Mean ablation and other edits go through `hook_z`.
    """

    def __init__(self, cfg: BlockConfig, cache_key: str = "0.self", cross: bool = False) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.cache_key, self.cross = cache_key, cross
        self.scale, self.temperature, self.dropout = cfg.attn_scale, cfg.attn_temperature, cfg.attention_dropout
        kv_width = self.n_kv_heads * self.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.k_proj = nn.Linear(cfg.d_model, kv_width, bias=cfg.bias)
        self.v_proj = nn.Linear(cfg.d_model, kv_width, bias=cfg.bias)
        self.out_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        # QK-norm (Henry et al., 2020; Dehghani et al., 2023): unit-RMS queries and keys keep the scores bounded
        self.q_norm = RMSNorm(self.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.register_buffer("head_mask", torch.ones(cfg.n_heads), persistent=False)
        self.fused: bool | None = None  # None: fused when possible; False: always explicit
        self.hook_q = HookPoint()  # (B, T, H, Dh), after QK-norm if any
        self.hook_k = HookPoint()  # (B, S, Hkv, Dh), after QK-norm if any
        self.hook_v = HookPoint()  # (B, S, Hkv, Dh)
        self.hook_attn_scores = HookPoint()  # (B, H, T, S), scaled and masked, before softmax
        self.hook_pattern = HookPoint()  # (B, H, T, S), softmax weights
        self.hook_z = HookPoint()  # (B, T, H, Dh), each head's output before out_proj

    def _split(self, x: torch.Tensor, n_heads: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n_heads, self.head_dim)  # (B, T, H, Dh)

    def _project(self, x: torch.Tensor, memory: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """q (B, T, H*Dh), k and v (B, S, Hkv*Dh). In self-attention off the explicit path the three
        projections run as one matmul on their stacked weights: the same products, in one larger
        matmul (and one in the backward), about 10% faster on the CPU than three."""
        projections = (self.q_proj, self.k_proj, self.v_proj)
        if memory is not None or self.fused is False or any(type(p) is not nn.Linear for p in projections):
            source = x if memory is None else memory
            return self.q_proj(x), self.k_proj(source), self.v_proj(source)
        bias = None if self.q_proj.bias is None else torch.cat([p.bias for p in projections])
        qkv = F.linear(x, torch.cat([p.weight for p in projections]), bias)  # (B, T, (H + 2 Hkv) Dh)
        return qkv.split([p.out_features for p in projections], dim=-1)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        bias: torch.Tensor | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        pos: torch.Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, D), memory (B, S, D) for cross-attention -> (B, T, D), weights (B, H, T, S) | None.

        `pos` (T,) holds the absolute positions of x; with a cache they continue the cached ones.
        """
        B, T, D = x.shape
        q, k, v = self._project(x, memory)
        q, k = self._split(q, self.n_heads), self._split(k, self.n_kv_heads)  # (B, T, H, Dh), (B, S, Hkv, Dh)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q = self.hook_q(q).transpose(1, 2)  # (B, H, T, Dh)
        k = self.hook_k(k).transpose(1, 2)  # (B, Hkv, S, Dh)
        v = self.hook_v(self._split(v, self.n_kv_heads)).transpose(1, 2)
        if rope is not None:
            cos, sin = rope
            q = apply_rotary(q, cos, sin)
            k = apply_rotary(k, cos, sin)
        k_pos = pos
        if cache is not None:
            if self.cross and self.cache_key in cache.keys:
                k, v = cache.keys[self.cache_key], cache.values[self.cache_key]  # memory: projected once
            elif self.cross:
                cache.update(self.cache_key, k, v)
            else:
                k, v = cache.update(self.cache_key, k, v)
                k_pos = torch.arange(k.shape[-2], device=x.device)
        if self.n_kv_heads != self.n_heads:
            repeat = self.n_heads // self.n_kv_heads
            k = k.repeat_interleave(repeat, dim=1)  # (B, H, S, Dh)
            v = v.repeat_interleave(repeat, dim=1)
        out, weights = scaled_dot_product_attention(
            q, k, v,
            attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal and not self.cross,
            bias=bias, q_pos=pos, k_pos=k_pos, scale=self.scale, temperature=self.temperature,
            dropout_p=self.dropout if self.training else 0.0, need_weights=need_weights,
            fused=self.fused, hook_scores=self.hook_attn_scores, hook_pattern=self.hook_pattern,
        )
        z = self.hook_z(out.transpose(1, 2))  # (B, T, H, Dh)
        z = z * self.head_mask.to(z.dtype)[None, None, :, None]
        return self.out_proj(z.reshape(B, T, D)), weights


class MeanMixer(nn.Module):
    """The attention-free mixer: every position takes the plain average of the positions it
    may see (all non-padding ones, or the causal prefix), then a linear map. This is
    attention with uniform weights, so the 'no attention' ablation keeps its masks."""

    def __init__(self, cfg: BlockConfig, cache_key: str = "0.self", cross: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        pos: torch.Tensor | None = None,
        **unused: object,
    ) -> tuple[torch.Tensor, None]:
        source = x if memory is None else memory
        allowed, _ = combine_masks(
            attn_mask if attn_mask is not None and attn_mask.dtype == torch.bool else None,
            key_padding_mask, is_causal and memory is None, pos, pos, None,
            x.shape[1], source.shape[1], x.device,
        )
        if allowed is None:
            mixed = source.mean(dim=1, keepdim=True).expand_as(x)
        else:
            w = allowed[:, 0].to(x.dtype)  # (B|1, T|1, S): T is 1 when only key padding masks
            mixed = ((w @ source) / w.sum(-1, keepdim=True).clamp(min=1)).expand_as(x)  # (B, T, D)
        return self.proj(mixed), None


def set_fused(model: nn.Module, fused: bool) -> nn.Module:
    """Switch every attention layer and LayerNorm in `model` to fused kernels (True: one QKV
    matmul and F.scaled_dot_product_attention wherever no hook needs the weights, F.layer_norm)
    or to the written-out formulas (False). Both compute the same function. By default attention
    is fused and LayerNorm written out (norms.LayerNorm says why). Returns model."""
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.fused = None if fused else False
        elif isinstance(module, LayerNorm):
            module.fused = fused
    return model
