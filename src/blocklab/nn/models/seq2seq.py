"""Seq2SeqTransformer: the encoder-decoder of Vaswani et al., with greedy and beam decoding."""
from __future__ import annotations

import torch
from torch import nn

from ..attention import KVCache
from ..blocks import Stack
from ..config import Seq2SeqConfig
from ..embed import Embedder, init_weights
from ..hooks import HookedModule
from .sampling import beam_search
from .saving import SavedModel


class Seq2SeqTransformer(SavedModel, HookedModule):
    """(src (B, S), tgt (B, T)) -> logits (B, T, V_tgt); the decoder sees tgt causally."""

    config_class = Seq2SeqConfig

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.src_embed = Embedder(cfg, cfg.vocab_size)
        self.tgt_embed = Embedder(cfg, cfg.target_vocab, causal=True)
        self.encoder = Stack(cfg, cfg.n_encoder_layers)
        self.decoder = Stack(cfg, cfg.n_decoder_layers, cross=True)
        self.lm_head = nn.Linear(cfg.d_model, cfg.target_vocab, bias=False)
        init_weights(self, cfg.init_std, cfg.zero_init_branch_output)
        if cfg.share_embeddings:
            self.tgt_embed.tok.weight = self.src_embed.tok.weight
        if cfg.tie_weights:
            self.lm_head.weight = self.tgt_embed.tok.weight
        self.setup_hooks()

    def _padding(self, tokens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        if mask is None and self.cfg.pad_id is not None:
            mask = tokens == self.cfg.pad_id
        return mask

    def encode(self, src: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S) -> memory (B, S, D)."""
        pad = self._padding(src, src_key_padding_mask)
        pos = self.src_embed.positions(0, src.shape[1], src.device)
        ctx = self.src_embed.context(pos, key_padding_mask=pad)
        return self.encoder(self.src_embed(src, pos), ctx)

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        *,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """tgt (B, T), memory (B, S, D) -> logits (B, T, V_tgt)."""
        start = 0 if cache is None else cache.length
        T = tgt.shape[1]
        pos = self.tgt_embed.positions(start, T, tgt.device, cached=cache is not None)  # (T,)
        k_pos = pos if cache is None else torch.arange(start + T, device=tgt.device)  # (S,)
        ctx = self.tgt_embed.context(
            pos, k_pos, is_causal=True,
            key_padding_mask=None if cache is not None else self._padding(tgt, tgt_key_padding_mask),
            memory=memory, memory_key_padding_mask=memory_key_padding_mask, cache=cache,
        )
        x = self.decoder(self.tgt_embed(tgt, pos), ctx)
        if cache is not None:
            cache.length += T
        return self.lm_head(x)

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        *,
        src_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        src_pad = self._padding(src, src_key_padding_mask)
        memory = self.encode(src, src_pad)
        return self.decode(tgt, memory, memory_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_key_padding_mask)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, bos_id: int, max_len: int, eos_id: int | None = None) -> torch.Tensor:
        """src (B, S) -> generated tokens (B, <= max_len), without the BOS; after EOS a row repeats EOS."""
        src_pad = self._padding(src, None)
        memory = self.encode(src, src_pad)
        cache = KVCache() if self.cfg.kv_cacheable else None
        out = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            step = out[:, -1:] if cache is not None else out
            # Generated tokens are never padding, even when one equals pad_id (or BOS does).
            logits = self.decode(step, memory, memory_key_padding_mask=src_pad, cache=cache,
                                 tgt_key_padding_mask=torch.zeros_like(step, dtype=torch.bool))[:, -1]  # (B, V)
            nxt = logits.argmax(dim=-1)
            if eos_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
                done |= nxt == eos_id
            out = torch.cat([out, nxt[:, None]], dim=1)
            if eos_id is not None and bool(done.all()):
                break
        return out[:, 1:]

    @torch.no_grad()
    def beam_search(
        self,
        src: torch.Tensor,
        bos_id: int,
        max_len: int,
        beam_size: int = 4,
        eos_id: int | None = None,
        length_penalty: float = 0.0,
    ) -> torch.Tensor:
        """Keep the beam_size best partial outputs by summed log-probability; returns (B, L) best.

        Finished beams (ending in EOS) keep their score, divided by length^length_penalty
        when ranked. Rows shorter than the longest are padded with EOS.
        """
        B, K = src.shape[0], beam_size
        src_pad = self._padding(src, None)
        memory = self.encode(src, src_pad).repeat_interleave(K, dim=0)  # (B*K, S, D)
        mem_pad = None if src_pad is None else src_pad.repeat_interleave(K, dim=0)

        def next_logp(seqs: torch.Tensor) -> torch.Tensor:  # (B*K, L) -> (B*K, V)
            no_pad = torch.zeros_like(seqs, dtype=torch.bool)
            return self.decode(seqs, memory, memory_key_padding_mask=mem_pad,
                               tgt_key_padding_mask=no_pad)[:, -1].log_softmax(-1)

        start = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)
        return beam_search(next_logp, start, max_len, K, eos_id, length_penalty)
