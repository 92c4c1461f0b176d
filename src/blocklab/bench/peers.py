"""The GPTs a training step is timed on: blocklab's and the same model from two peers.

Every contender is the same network, counted parameter for parameter (the benchmark prints
the counts): token and learned position embeddings, pre-norm blocks of causal multi-head
attention (fused QKV or not, with biases) and a GELU feed-forward of width 4 D, a final
LayerNorm and an output head tied to the token embeddings. Dropout is 0, all in training mode.

    blocklab           blocklab.nn.GPT with set_fused(model, True): one QKV matmul, F.scaled_dot_product_attention,
                       F.layer_norm
    blocklab-explicit  the same GPT on its written-out attention and LayerNorm (set_fused False)
    torch.nn           nn.TransformerEncoderLayer(norm_first=True) with a causal mask
    transformers       Hugging Face GPT2LMHeadModel (the optional `bench` extra), exact GELU
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..nn.attention import set_fused
from ..nn.config import GPTConfig
from ..nn.models.gpt import GPT

INSTALL_TRANSFORMERS = "pip install 'blocklab[bench]'  (or: pip install transformers)"


@dataclass(frozen=True)
class GPTSize:
    """One benchmark configuration: a GPT's shape and the batch it trains on."""

    name: str
    n_layers: int
    n_heads: int
    d_model: int
    context: int
    batch: int
    vocab: int = 65  # shakespeare_char's characters, as nanoGPT trains on the CPU

    def gpt_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=self.vocab, d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                         d_ff=4 * self.d_model, max_len=self.context, pos_encoding="learned", dropout=0.0,
                         activation="gelu", norm="layer", norm_position="pre", tie_weights=True, bias=True)

    @property
    def tokens(self) -> int:
        return self.batch * self.context


SIZES = {
    "nanogpt-cpu": GPTSize("nanogpt-cpu", n_layers=4, n_heads=4, d_model=128, context=64, batch=12),
    "gpt-6x384": GPTSize("gpt-6x384", n_layers=6, n_heads=6, d_model=384, context=256, batch=12),
}


class PeerMissing(Exception):
    """A peer library is not installed; the message says how to install it."""


class TorchEncoderGPT(nn.Module):
    """The GPT assembled from torch.nn.TransformerEncoderLayer, with a causal mask."""

    def __init__(self, size: GPTSize) -> None:
        super().__init__()
        D = size.d_model
        self.tok, self.pos = nn.Embedding(size.vocab, D), nn.Embedding(size.context, D)
        layer = nn.TransformerEncoderLayer(D, size.n_heads, 4 * D, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, size.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(D, size.vocab, bias=False)
        self.head.weight = self.tok.weight
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(size.context), persistent=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))  # (B, T, D)
        # is_causal tells the layers the mask is causal, so attention runs the causal kernel.
        x = self.blocks(x, mask=self.mask[:T, :T], is_causal=True)
        return self.head(self.norm(x))  # (B, T, V)


class HFGPT2(nn.Module):
    """transformers.GPT2LMHeadModel with the benchmark's shape, returning logits only."""

    def __init__(self, size: GPTSize) -> None:
        super().__init__()
        try:
            from transformers import GPT2Config, GPT2LMHeadModel
            from transformers.utils import logging
        except ImportError:
            raise PeerMissing(f"transformers is not installed; {INSTALL_TRANSFORMERS}") from None
        logging.set_verbosity_error()  # its warning about GPT-2's token ids outside a 65-token vocabulary
        cfg = GPT2Config(vocab_size=size.vocab, n_positions=size.context, n_embd=size.d_model, n_layer=size.n_layers,
                         n_head=size.n_heads, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
                         attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
        self.model = GPT2LMHeadModel(cfg)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=idx, use_cache=False).logits


def _blocklab(size: GPTSize) -> nn.Module:
    return set_fused(GPT(size.gpt_config()), True)


def _blocklab_explicit(size: GPTSize) -> nn.Module:
    return set_fused(GPT(size.gpt_config()), False)


CONTENDERS: dict[str, Callable[[GPTSize], nn.Module]] = {
    "blocklab": _blocklab,
    "blocklab-explicit": _blocklab_explicit,
    "torch.nn": TorchEncoderGPT,
    "transformers": HFGPT2,
}
PEERS = ("torch.nn", "transformers")


def n_parameters(model: nn.Module) -> int:
    """Distinct parameters (a tied matrix counts once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
