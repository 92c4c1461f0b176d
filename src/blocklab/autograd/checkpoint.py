"""A trained numpy GPT as a model folder (blocklab.nn.models.saving's format) that `blocklab generate` reads.

    config.json         {"format": "blocklab-model", "kind": "GPT", "config": {GPTConfig fields}, ...}
    model.safetensors   the weights, a tied weight once (the layout of blocklab.nn's and blocklab.train's)
    tokenizer.json      the CharTokenizer

One format for both engines: a folder saved here loads with blocklab.nn's `GPT.load`, and a
blocklab.nn GPT's folder loads here when its config is one the numpy engine has. Every way a
folder can be wrong raises one BlocklabError line that names the file.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import BlocklabError
from ..nn.models.saving import TOKENIZER, build_numpy, load_tokenizer, read_folder, write_folder
from ..tokenizers import Tokenizer
from .convert import weights_bytes
from .gpt import GPT


def save_checkpoint(model: GPT, tokenizer: Tokenizer | None, folder: str | Path) -> Path:
    return write_folder(folder, "GPT", model.cfg.to_dict(), {"head_bias": False}, weights_bytes(model), tokenizer)


def load_checkpoint(folder: str | Path, dtype=None) -> tuple[GPT, Tokenizer]:
    """The numpy GPT (in eval mode, in `dtype` or the file's) and the tokenizer of a model folder."""
    model = build_numpy(read_folder(folder), dtype)
    tokenizer = load_tokenizer(folder)
    if tokenizer is None:
        raise BlocklabError(f"{Path(folder) / TOKENIZER} is missing: the model was saved without a tokenizer, "
                            "so text cannot be encoded for it")
    return model, tokenizer
