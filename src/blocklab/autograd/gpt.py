"""GPT on the numpy engine, built from a blocklab.nn GPTConfig.

The module tree mirrors blocklab.nn's GPT (embed.tok, embed.pos.table, blocks.N.res_attn.norm,
blocks.N.attn.q_proj, blocks.N.mlp.up, norm_f, lm_head), so parameter names are the same in
both engines and convert.py copies weights key for key.

The engine covers the GPT the seed-004 demos need; a config asking for anything else (RoPE,
grouped-query attention, RMSNorm, ...) is refused by `check_config` with the choices it has.
Shapes: B batch, T positions, D model width, V vocabulary.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import BlocklabError, ConfigError
from . import functional as F
from .layers import Dropout, Embedding, FeedForward, LayerNorm, Linear, MultiHeadAttention
from .module import Module, ModuleList
from .tensor import Tensor, no_grad

SUPPORTED = {
    "pos_encoding": ("learned", "sinusoidal", "none"),
    "norm": ("layer", "none"),
    "activation": ("gelu", "relu"),
    "mixer": ("attention",),
    "n_kv_heads": (None,),
    "qk_norm": (False,),
    "zero_init_branch_output": (False,),
}


def check_config(cfg) -> None:
    """Refuse the GPTConfig values blocklab.nn has and this engine does not."""
    for field, choices in SUPPORTED.items():
        value = getattr(cfg, field)
        if value not in choices:
            valid = ", ".join(repr(c) for c in choices)
            raise ConfigError(
                f"GPTConfig.{field}={value!r} is not available in the numpy engine; choose one of: {valid} "
                "(or use blocklab.nn.GPT)"
            )


def sinusoid_table(n: int, dim: int, base: float, dtype) -> np.ndarray:
    """PE[p, 2i] = sin(p / base^(2i/dim)), PE[p, 2i+1] = cos(same).  -> (n, dim)

    As blocklab.nn: angles in float64 (float32 angles drift by p * 6e-8 radians), the table
    rounded to float32, so both engines add exactly the same numbers.
    """
    inv_freq = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = np.arange(n, dtype=np.float64)[:, None] * inv_freq[None, :]  # (n, dim/2)
    table = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, dim)  # sin, cos interleaved
    return table.astype(np.float32).astype(dtype)


class NoPositions(Module):
    """pos_encoding='none': the model sees a bag of tokens, plus what the causal mask reveals."""

    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        pass

    def forward(self, x: Tensor, T: int) -> Tensor:
        return x


class Learned(Module):
    """A trained (max_len, D) table; past it, an error or the last row ('clamp'), as blocklab.nn."""

    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        self.table = Embedding(cfg.max_len, cfg.d_model, rng, cfg.init_std, dtype)
        self.overflow = cfg.learned_overflow

    def forward(self, x: Tensor, T: int) -> Tensor:
        n = self.table.weight.shape[0]
        if T > n and self.overflow == "error":
            raise BlocklabError(
                f"position {T - 1} is past the learned position table (max_len={n}); use a shorter "
                "input, a larger max_len, learned_overflow='clamp', or pos_encoding='sinusoidal'"
            )
        return x + self.table(np.minimum(np.arange(T), n - 1))  # (B, T, D) + (T, D)


class Sinusoidal(Module):
    """Fixed sin/cos positions, a constant: no gradient, not in the state_dict."""

    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        self.d_model, self.base, self.dtype = cfg.d_model, cfg.pos_base, dtype
        self.table = sinusoid_table(cfg.max_len, cfg.d_model, cfg.pos_base, dtype)

    def forward(self, x: Tensor, T: int) -> Tensor:
        if T > len(self.table):
            self.table = sinusoid_table(T, self.d_model, self.base, self.dtype)
        return x + self.table[:T]


POSITIONS = {"learned": Learned, "sinusoidal": Sinusoidal, "none": NoPositions}


class Embedder(Module):
    """tokens (B, T) -> token vectors (times sqrt(D) with scale_embeddings) plus positions, dropout."""

    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        self.tok = Embedding(cfg.vocab_size, cfg.d_model, rng, cfg.init_std, dtype)
        self.pos = POSITIONS[cfg.pos_encoding](cfg, rng, dtype)
        self.scale = math.sqrt(cfg.d_model) if cfg.scale_embeddings else 1.0
        self.drop = Dropout(cfg.dropout)

    def forward(self, idx: np.ndarray) -> Tensor:
        x = self.tok(idx)  # (B, T, D)
        if self.scale != 1.0:
            x = x * self.scale
        return self.drop(self.pos(x, idx.shape[1]))


class Residual(Module):
    """pre-norm: x + dropout(f(norm(x)));  post-norm: norm(x + dropout(f(x))). As blocklab.nn,
    with residual_scale multiplying x and residual=False dropping the x term."""

    def __init__(self, cfg, dtype) -> None:
        self.norm = LayerNorm(cfg.d_model, cfg.norm_eps, dtype) if cfg.norm == "layer" else None
        self.drop = Dropout(cfg.dropout)
        self.pre, self.residual, self.scale = cfg.norm_position == "pre", cfg.residual, cfg.residual_scale

    def _norm(self, x: Tensor) -> Tensor:
        return x if self.norm is None else self.norm(x)

    def forward(self, x: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        fx = self.drop(fn(self._norm(x) if self.pre else x))  # (B, T, D) what the sublayer adds
        if self.residual:
            fx = (x if self.scale == 1.0 else x * self.scale) + fx
        return fx if self.pre else self._norm(fx)


class Block(Module):
    def __init__(self, cfg, rng: np.random.Generator, dtype) -> None:
        self.attn = MultiHeadAttention(cfg, rng, dtype)
        self.res_attn = Residual(cfg, dtype)
        self.mlp = FeedForward(cfg, rng, dtype) if cfg.ffn else None
        self.res_mlp = Residual(cfg, dtype) if cfg.ffn else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.res_attn(x, self.attn)
        return x if self.mlp is None else self.res_mlp(x, self.mlp)


class GPT(Module):
    """tokens (B, T) -> next-token logits (B, T, V), float32 unless dtype says otherwise.

    Initialization follows blocklab.nn (normal(0, init_std) weights, zero biases) from
    `seed`; with tie_weights the output projection is the token embedding matrix itself.
    """

    def __init__(self, cfg, seed: int | None = 0, dtype=np.float32) -> None:
        check_config(cfg)
        rng = np.random.default_rng(seed)
        self.cfg, self.dtype = cfg, np.dtype(dtype)
        self.embed = Embedder(cfg, rng, dtype)
        self.blocks = ModuleList(Block(cfg, rng, dtype) for _ in range(cfg.n_layers))
        use_final_norm = cfg.norm_position == "pre" if cfg.final_norm is None else cfg.final_norm
        self.norm_f = LayerNorm(cfg.d_model, cfg.norm_eps, dtype) if use_final_norm and cfg.norm == "layer" else None
        self.lm_head = Linear(cfg.d_model, cfg.vocab_size, False, rng, cfg.init_std, dtype)
        if cfg.tie_weights:
            self.lm_head.weight = self.embed.tok.weight

    def forward(self, idx: np.ndarray) -> Tensor:
        idx = np.asarray(idx)
        x = self.embed(idx)  # (B, T, D)
        for block in self.blocks:
            x = block(x)
        if self.norm_f is not None:
            x = self.norm_f(x)
        return self.lm_head(x)  # (B, T, V)

    def loss(self, idx: np.ndarray, targets: np.ndarray, ignore_index: int = -100) -> Tensor:
        """Mean next-token cross-entropy (nats) of idx (B, T) against targets (B, T)."""
        return F.cross_entropy(self(idx), targets, ignore_index=ignore_index)

    def generate(self, idx: np.ndarray, max_new_tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator=None) -> np.ndarray:
        """Append max_new_tokens to idx (B, T): temperature 0 is greedy, else sampling with optional top-k / top-p;
        the default temperature is blocklab.nn's DEFAULT_TEMPERATURE (a test holds the two equal).
        Decoding is blocklab.nn's `sample_next` (a torch.Generator
        seeds it), so both engines decode alike. No KV cache: each step reruns the context,
        cropped to max_len for learned positions. Call model.eval() first to switch off dropout."""
        import torch  # only here: the engine itself runs without torch

        from ..nn.models.sampling import check_sampling, sample_next

        check_sampling(temperature, top_k, top_p, max_new_tokens)
        idx = np.asarray(idx)
        window = self.cfg.max_len if self.cfg.pos_encoding == "learned" else None
        with no_grad():
            for _ in range(max_new_tokens):
                context = idx if window is None else idx[:, -window:]
                logits = torch.from_numpy(self(context).data[:, -1, :])  # (B, V)
                nxt = sample_next(logits, temperature, top_k, top_p, generator).numpy()  # (B, 1)
                idx = np.concatenate([idx, nxt.astype(idx.dtype)], axis=1)
        return idx

