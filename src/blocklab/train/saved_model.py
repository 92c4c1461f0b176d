"""A trained operations model (nn/models/operations.py) saved as a folder: model.safetensors
and config.json (its GPTConfig), as the training-dynamics study writes them for `blocklab predict`."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ..errors import BlocklabError
from ..io import atomic_write_bytes, atomic_write_text
from ..nn import GPT, GPTConfig
from ..nn.models.operations import build_model
from .checkpoint import load_model_tensors, model_tensors

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_model(model: GPT, path: str | Path) -> Path:
    """Write `path`/model.safetensors and `path`/config.json (the GPTConfig), each atomically."""
    path = Path(path)
    atomic_write_bytes(path / WEIGHTS, save_tensors(model_tensors(model)))
    atomic_write_text(path / CONFIG, json.dumps(model.cfg.to_dict(), indent=1))
    return path


def load_model(path: str | Path) -> GPT:
    """The model `save_model` wrote to `path`, in eval mode."""
    path = Path(path)
    for name in (CONFIG, WEIGHTS):
        if not (path / name).is_file():
            raise BlocklabError(f"{path} holds no saved model: {path / name} is missing (a saved model folder "
                                f"holds {CONFIG} and {WEIGHTS}, e.g. RUN/work/baseline-seed/seed0/model)")
    try:
        cfg = GPTConfig.from_dict(json.loads((path / CONFIG).read_text(encoding="utf-8")))
        tensors = load_tensors((path / WEIGHTS).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, SafetensorError) as err:
        raise BlocklabError(f"the saved model in {path} is corrupt ({type(err).__name__}: {err})") from None
    model = build_model(cfg)
    load_model_tensors(model, tensors, path / WEIGHTS)
    return model.eval()
