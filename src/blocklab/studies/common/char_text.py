"""What the character-LM studies (char-lm, char-speedrun) share: nanoGPT's CPU recipe for
shakespeare_char, and the text cut into windows the way the char-lm study cuts it.

Data: the first 90% of the characters train and the last 10% validate (data.split_text).
Training windows are `n` (context + 1)-character slices at offsets drawn by the run seed
(nanoGPT draws each batch at random offsets too); validation uses `n` slices at evenly spaced
offsets, the same for every seed.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from blocklab.data import CharTokenizer, load_shakespeare, load_stdlib_code, split_text
from blocklab.nn import GPTConfig
from blocklab.train import TrainConfig


def nanogpt_cpu_train() -> TrainConfig:
    """nanoGPT's CPU run of shakespeare_char, from its README and config: 2000 iterations of batch 12,
    AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1, 100 warm-up steps, cosine decay, clipping at 1."""
    return TrainConfig(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, schedule="cosine", warmup_steps=100, steps=2000,
                       batch_size=12, grad_clip=1.0, eval_every=250, log_every=None)


def nanogpt_gpt_config(vocab_size: int, n_layers: int, n_heads: int, d_model: int, context: int, dropout: float,
                       **changes) -> GPTConfig:
    """nanoGPT's model at these sizes: learned positions, no biases, the head tied to the token embedding,
    GELU, pre-LayerNorm, d_ff = 4 d_model; `changes` are GPTConfig fields set otherwise."""
    return GPTConfig(**{"vocab_size": vocab_size, "d_model": d_model, "n_heads": n_heads, "n_layers": n_layers,
                        "d_ff": 4 * d_model, "max_len": context, "dropout": dropout, "pos_encoding": "learned",
                        "bias": False, "tie_weights": True, **changes})


def windows(ids: np.ndarray, length: int, offsets: np.ndarray) -> torch.Tensor:
    """(N, length + 1): the slices ids[o : o + length + 1], inputs and their next characters together."""
    return torch.from_numpy(np.stack([ids[o : o + length + 1] for o in offsets]))


def train_windows(ids: np.ndarray, context: int, n: int, seed: int) -> torch.Tensor:
    """(n, context + 1) windows at offsets drawn by `seed`."""
    return windows(ids, context, np.random.default_rng(seed).integers(0, len(ids) - context, n))


def val_windows(ids: np.ndarray, context: int, n: int) -> torch.Tensor:
    """(n, context + 1) windows at evenly spaced offsets: the same for every seed and every recipe."""
    return windows(ids, context, np.linspace(0, len(ids) - context - 1, n).astype(int))


@functools.lru_cache(maxsize=2)
def corpus(name: str, data_dir: str, code_chars: int = 0) -> tuple[CharTokenizer, np.ndarray, np.ndarray, dict]:
    """(tokenizer, train ids, val ids, summary) of "shakespeare" or "stdlib-code" (its first `code_chars`
    characters), built once per process; the tokenizer knows every training character, plus <unk>."""
    cache = Path(data_dir) if data_dir else None
    if name == "shakespeare":
        text = load_shakespeare(cache)
    else:
        code = load_stdlib_code({"train": code_chars})
        text = code.texts["train"]
    train, val = split_text(text, 0.1)
    tok = CharTokenizer.fit(train)
    summary = {"chars": len(text), "train_chars": len(train), "val_chars": len(val), "vocab_size": tok.vocab_size,
               "val_unknown": int((tok.encode(val) == 0).sum())}
    return tok, tok.encode(train), tok.encode(val), summary
