"""A trained numpy GPT as a folder that `blocklab generate` reads: weights, config, tokenizer.

    model.safetensors   the weights, in save_weights' format (blocklab.train's, a tied weight once)
    config.json         the blocklab.nn GPTConfig's fields
    tokenizer.json      the CharTokenizer (CharTokenizer.save)

Every way a folder can be wrong (missing, a file missing, a file corrupt, weights that do
not fit the config) raises a BlocklabError that names the file.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError

from ..errors import BlocklabError
from ..io import atomic_write_text
from ..nn.config import GPTConfig
from .convert import load_weights, save_weights
from .gpt import GPT
from .tokenizer import CharTokenizer

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"


def save_checkpoint(model: GPT, tokenizer: CharTokenizer, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model, folder / WEIGHTS)
    atomic_write_text(folder / CONFIG, json.dumps(model.cfg.to_dict(), indent=1))
    tokenizer.save(folder / TOKENIZER)
    return folder


def load_checkpoint(folder: str | Path, dtype=np.float32) -> tuple[GPT, CharTokenizer]:
    """The model (in eval mode) and tokenizer saved by save_checkpoint."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BlocklabError(f"checkpoint folder {folder} does not exist (it holds {WEIGHTS}, {CONFIG}, {TOKENIZER})")
    for name in (WEIGHTS, CONFIG, TOKENIZER):
        if not (folder / name).is_file():
            raise BlocklabError(f"{folder / name} is missing: a checkpoint folder holds {WEIGHTS}, {CONFIG}, {TOKENIZER}")
    try:
        cfg = GPTConfig.from_dict(json.loads((folder / CONFIG).read_text(encoding="utf-8")))
    except (ValueError, TypeError) as e:  # bad JSON, unknown keys, invalid values
        raise BlocklabError(f"{folder / CONFIG} is corrupt: {e}") from None
    try:
        tokenizer = CharTokenizer.load(folder / TOKENIZER)
    except (ValueError, KeyError, TypeError) as e:
        raise BlocklabError(f"{folder / TOKENIZER} is corrupt: {e}") from None
    if tokenizer.vocab_size != cfg.vocab_size:
        raise BlocklabError(f"{folder / TOKENIZER} has {tokenizer.vocab_size} tokens but {folder / CONFIG} "
                            f"says vocab_size={cfg.vocab_size}")
    model = GPT(cfg, dtype=dtype)
    try:
        load_weights(model, folder / WEIGHTS)
    except (SafetensorError, OSError, KeyError, ValueError) as e:  # unreadable, or names/shapes that differ
        raise BlocklabError(f"{folder / WEIGHTS} is corrupt or does not fit {CONFIG}: {e}") from None
    return model.eval(), tokenizer
