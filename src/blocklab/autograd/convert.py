"""Weights both ways between the numpy GPT and blocklab.nn's GPT, in memory and in files.

Both models name their parameters the same way and store them in the same layout (Linear
weights (out, in), embedding tables (n, D)), so conversion is a copy key by key; what this
module adds is the check that the two state_dicts really match, with an error naming the
keys that do not. A tied output projection appears under both names in either state_dict
and points to one array, so copying it twice is harmless.

On disk the numpy engine writes the format of blocklab.train's checkpoints (model.safetensors:
one entry per array, a tied weight once), so a checkpoint trained in either engine loads
into the other.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors.numpy import save as save_arrays

from ..io import atomic_write_bytes
from ..nn.models.gpt import GPT as TorchGPT
from .gpt import GPT


def _check_same_keys(ours: dict, theirs: dict) -> None:
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or extra:
        raise KeyError(f"the models' parameters differ: only in the numpy GPT {missing}, only in blocklab.nn {extra}")


def numpy_state_from_torch(model: TorchGPT) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}


def to_torch(model: GPT, dtype: torch.dtype | None = None) -> TorchGPT:
    """A blocklab.nn GPT with the same config and weights (dtype: that of the numpy model by default)."""
    target = TorchGPT(model.cfg)
    state = model.state_dict()
    _check_same_keys(state, target.state_dict())
    dtype = dtype or (torch.float64 if model.dtype == np.float64 else torch.float32)
    target = target.to(dtype)
    target.load_state_dict({name: torch.from_numpy(array).to(dtype) for name, array in state.items()})
    return target


def from_torch(model: TorchGPT, dtype=np.float32) -> GPT:
    """A numpy GPT with the same config and weights as a blocklab.nn GPT."""
    target = GPT(model.cfg, dtype=dtype)
    state = numpy_state_from_torch(model)
    _check_same_keys(target.state_dict(), state)
    target.load_state_dict(state)
    return target


def weights_bytes(model: GPT) -> bytes:
    """The weights as safetensors bytes, a tied parameter under its first name only (named_parameters' rule)."""
    return save_arrays({name: np.ascontiguousarray(p.data) for name, p in model.named_parameters()})


def save_weights(model: GPT, path: str | Path) -> None:
    atomic_write_bytes(path, weights_bytes(model))


def load_weights(model: GPT, path: str | Path) -> None:
    """Read weights written by save_weights or by blocklab.train (model.safetensors)."""
    model.load_state_dict(load_file(str(path)))
