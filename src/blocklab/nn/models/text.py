"""Text in, text out: a saved GPT and its tokenizer continue a prompt (what `blocklab generate` prints).

Works with either engine: engine="torch" builds blocklab.nn's GPT, engine="numpy" the numpy
engine's (blocklab.autograd); both decode with the same `sample_next`, so with one seed they
pick the same tokens wherever their logits agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...autograd.tokenizer import UNK_ID, CharTokenizer
from ...errors import BlocklabError
from ...tokenizers import Tokenizer
from .sampling import DEFAULT_TEMPERATURE
from .saving import TOKENIZER, build, load_tokenizer, read_kind


@dataclass
class Continuation:
    text: str  # the generated text only, without the prompt
    unknown: list[str]  # prompt characters outside the vocabulary, encoded as <unk>


def load_text_model(folder: str | Path, engine: str = "torch"):
    """(GPT in eval mode, tokenizer) of a model folder; one line if it is not a GPT or has no tokenizer."""
    saved = read_kind(folder, "GPT", engine)  # the kind first: a folder of another kind gets that one line
    tokenizer = load_tokenizer(folder)
    if tokenizer is None:
        raise BlocklabError(f"{Path(folder) / TOKENIZER} is missing: the model was saved without a tokenizer, so "
                            "text cannot be encoded for it (save it with model.save(folder, tokenizer=...))")
    return build(saved, engine), tokenizer


def continue_text(model, tokenizer: Tokenizer, prompt: str, max_new_tokens: int, *,
                  temperature: float = DEFAULT_TEMPERATURE, top_k: int | None = None, top_p: float | None = None,
                  seed: int = 0, strict: bool = False) -> Continuation:
    """Sample max_new_tokens after `prompt` with a generator seeded by `seed`; strict refuses unknown characters."""
    if not prompt:
        raise BlocklabError("the prompt is empty; give at least one character to continue")
    if isinstance(tokenizer, CharTokenizer):
        ids = tokenizer.encode(prompt, errors="strict" if strict else "replace")
        unknown = sorted({c for c, i in zip(prompt, ids) if i == UNK_ID})
    else:
        ids, unknown = np.asarray(tokenizer.encode(prompt), dtype=np.int64), []
    options = {"temperature": temperature, "top_k": top_k, "top_p": top_p,
               "generator": torch.Generator().manual_seed(seed)}
    if isinstance(model, torch.nn.Module):
        device = next(model.parameters()).device
        options["generator"] = torch.Generator(device).manual_seed(seed)
        out = model.generate(torch.from_numpy(ids)[None].to(device), max_new_tokens, **options)[0].cpu().numpy()
    else:
        out = model.generate(ids[None], max_new_tokens, **options)[0]
    return Continuation(tokenizer.decode(out[len(ids):]), unknown)
