"""GPT: a decoder-only language model from blocklab blocks (causal self-attention, no cross)."""
from __future__ import annotations

import torch
from torch import nn

from ...errors import BlocklabError, ConfigError
from ..attention import KVCache
from ..blocks import Block, Blocks, final_norm
from ..config import GPTConfig
from ..embed import Embedder, init_weights
from ..hooks import HookedModule
from .sampling import DEFAULT_TEMPERATURE, beam_search, check_sampling, sample_next
from .saving import SavedModel


class GPT(SavedModel, HookedModule):
    """tokens (B, T) -> next-token logits (B, T, V).

    `positions` (B, T), optional: one position per token from the task, read by the additive
    encodings ('learned', 'sinusoidal') instead of 0..T-1 and required by 'abacus' and
    'coupling' (blocklab.tasks.digit_positions computes them). They feed the embedding only:
    the causal mask and a KV cache still follow the order of the tokens.

    head_bias adds a bias to the output layer (the training-dynamics study's b_output); a saved
    model records it beside its config.
    """

    config_class = GPTConfig
    extra_fields = ("head_bias",)

    def __init__(self, cfg: GPTConfig, head_bias: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = Embedder(cfg, cfg.vocab_size, causal=True)
        self.blocks = Blocks(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm_f = final_norm(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=head_bias)
        init_weights(self, cfg.init_std, cfg.zero_init_branch_output)
        if cfg.tie_weights:
            self.lm_head.weight = self.embed.tok.weight
        self.setup_hooks()

    def format_extras(self) -> dict:
        return {"head_bias": self.lm_head.bias is not None}

    @classmethod
    def from_hf(cls, folder) -> GPT:
        """The GPT in a Hugging Face GPT-2 folder (config.json + model.safetensors); see blocklab.nn.hf."""
        from ..hf import from_hf  # hf.py builds on this module

        return from_hf(folder)

    def forward(
        self,
        idx: torch.Tensor,
        *,
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, T = idx.shape
        start = 0 if cache is None else cache.length
        pos = self.embed.positions(start, T, idx.device, cached=cache is not None)  # (T,)
        if cache is not None and key_padding_mask is not None:
            raise BlocklabError("key_padding_mask is not supported together with a KV cache")
        if positions is not None and positions.shape != idx.shape:
            raise BlocklabError(f"positions must have the shape of the tokens, {tuple(idx.shape)}; "
                                f"got {tuple(positions.shape)}")
        x = self.embed(idx, pos if positions is None else positions)  # (B, T, D)
        k_pos = pos if cache is None else torch.arange(start + T, device=idx.device)  # (S,)
        ctx = self.embed.context(pos, k_pos, is_causal=True, key_padding_mask=key_padding_mask, cache=cache)
        x = self.blocks(x, ctx)  # (B, T, D)
        if cache is not None:
            cache.length += T
        return self.lm_head(self.norm_f(x))  # (B, T, V)

    def new_cache(self) -> KVCache:
        if self.cfg.mixer != "attention":
            raise ConfigError(
                f"GPTConfig.mixer={self.cfg.mixer!r} keeps no keys and values to cache; "
                "generate with use_cache=False or use mixer='attention'"
            )
        return KVCache()

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        temperature: float = DEFAULT_TEMPERATURE,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append max_new_tokens to idx (B, T). temperature=0 is greedy decoding.

        use_cache=None uses the KV cache whenever the config allows it and, for learned
        positions, the whole output fits in max_len. Without a cache the context is cropped
        to max_len for positions that cannot extrapolate (learned).
        """
        check_sampling(temperature, top_k, top_p, max_new_tokens)
        window = self._window()
        if use_cache is None:
            # A cache keeps absolute positions and cannot crop; positions up to T + n - 2 are fed.
            fits = window is None or idx.shape[1] + max_new_tokens - 1 <= window
            use_cache = self.cfg.kv_cacheable and fits
        cache = self.new_cache() if use_cache else None
        step_input = idx
        for _ in range(max_new_tokens):
            if cache is None and window is not None:
                step_input = idx[:, -window:]
            logits = self(step_input, cache=cache)[:, -1, :]  # (B, V)
            nxt = sample_next(logits, temperature, top_k, top_p, generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)
            step_input = nxt if cache is not None else idx
        return idx

    @torch.no_grad()
    def beam_search(self, idx: torch.Tensor, max_new_tokens: int, *, beam_size: int = 4, eos_id: int | None = None,
                    length_penalty: float = 0.0) -> torch.Tensor:
        """Append the most probable continuation of max_new_tokens to idx (B, T) found by a beam of
        beam_size, as generate appends a sampled one. beam_size=1 is greedy decoding."""
        window = self._window()

        def next_logp(seqs: torch.Tensor) -> torch.Tensor:  # (B*K, L) -> (B*K, V)
            return self(seqs if window is None else seqs[:, -window:])[:, -1].log_softmax(-1)

        return torch.cat([idx, beam_search(next_logp, idx, max_new_tokens, beam_size, eos_id, length_penalty)], dim=1)

    def _window(self) -> int | None:
        """How much context a forward pass may see: learned positions stop at max_len; the others extrapolate."""
        return self.cfg.max_len if self.cfg.pos_encoding == "learned" else None
