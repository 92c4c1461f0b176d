"""The seed-001 model: a 2-block causal Transformer that reads `Op ( a , b , c )` and answers
with the logits at the last position (source document 001's model; `model.save(folder)` and
`GPT.load(folder)` keep it).

The architecture is the seed's hyperparameter table: 2 blocks, d_model 64, 4 heads, FFN 256,
dropout 0.1 (on embeddings, attention weights, FFN hidden units and sublayer outputs),
vocabulary 20, max_len 50, fixed sinusoidal positions ("Standard sinusoidal (these are
fixed, not random)" in the seed), pre-LayerNorm blocks with GELU, and an output layer of its
own, W_output (64 x 20) and b_output (20), not tied to the embedding: the seed tracks
b_output's rows. Every ablation is a GPTConfig field passed to `model_config`.

Token embeddings are multiplied by sqrt(64) = 8 (scale_embeddings, as in Vaswani et al.). The
seed's initial embeddings have entries of magnitude ~0.1 ('Max' = [0.023, -0.145, 0.089, ...])
while its attention weights are N(0, 0.02); blocklab initialises every weight at N(0, 0.02),
so without the scale the token vectors (std 0.02) would be drowned by the sinusoidal table
(entries up to 1). With it they start at std 0.16. It adds no parameter; the study's
`ablate-no-embed-scale` cell measures the model without it.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...errors import BlocklabError
from ..config import GPTConfig
from .gpt import GPT

SEED_MODEL = dict(vocab_size=20, d_model=64, n_heads=4, d_ff=256, n_layers=2, dropout=0.1, max_len=50,
                  pos_encoding="sinusoidal", tie_weights=False, scale_embeddings=True)


def model_config(**changes: Any) -> GPTConfig:
    """The seed's architecture with some fields changed (unknown fields are a ConfigError)."""
    return GPTConfig(**SEED_MODEL).replace(**changes)


def build_model(cfg: GPTConfig) -> GPT:
    """A GPT whose untied output layer has a bias (b_output), initialised as blocklab initialises
    every Linear: N(0, init_std) weights, zero bias. A tied head stays bias-free."""
    model = GPT(cfg)
    if not cfg.tie_weights:
        model.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=True)
        nn.init.normal_(model.lm_head.weight, std=cfg.init_std)
        nn.init.zeros_(model.lm_head.bias)
    return model


def logits_for(model: GPT, x: torch.Tensor) -> torch.Tensor:
    """(N, T) token ids -> (N, V) logits at the last position, where the answer is read."""
    if x.shape[1] > model.cfg.max_len:
        raise BlocklabError(f"an input of {x.shape[1]} tokens is longer than the model's max_len={model.cfg.max_len}")
    return model(x)[:, -1]
