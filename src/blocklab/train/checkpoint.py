"""Checkpoints: tensors in safetensors, everything else in one JSON state.

    checkpoint/
      model.safetensors   weights and buffers, a tied weight stored once
      optim.safetensors   optimizer state tensors (Adam moments and step counts, SGD momentum)
      state.json          step, RNG states, data order, history, config, scheduler, and the
                          sha256 of both tensor files

Every file is written atomically (temp file in the same folder, fsync, os.replace), and
state.json last: it is the commit record. A crash between the renames leaves an older
state.json whose checksums no longer match the tensor files, so loading reports the
mismatch instead of silently resuming from a mix of two steps.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from ..errors import BlocklabError
from ..io import atomic_write_bytes, atomic_write_text

CHECKPOINT = "checkpoint"  # the folder in a run_dir
MODEL, OPTIM, STATE = "model.safetensors", "optim.safetensors", "state.json"


def _dedupe(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Split a state_dict into tensors with their own memory and {alias: name it shares memory with}.

    safetensors refuses two names for one memory block, and tied weights are exactly that.
    """
    kept: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    owner: dict[tuple, str] = {}
    for name, t in state_dict.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if key in owner:
            aliases[name] = owner[key]
        else:
            owner[key] = name
            kept[name] = t
    return kept, aliases


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    kept, _ = _dedupe(model.state_dict())
    return {name: t.detach().cpu().contiguous() for name, t in kept.items()}


def load_model_tensors(model: nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Load tensors saved by `model_tensors`; the model's own ties say which names were dropped."""
    _, aliases = _dedupe(model.state_dict())
    try:
        full = {**tensors, **{alias: tensors[name] for alias, name in aliases.items()}}
        model.load_state_dict(full)
    except (KeyError, RuntimeError) as err:
        raise BlocklabError(f"checkpoint file {source} does not fit this model: {err}") from None


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """'{param index}.{name}' -> tensor. Adam, AdamW and SGD keep only tensors per parameter."""
    state = optimizer.state_dict()["state"]
    return {f"{i}.{k}": v.detach().cpu().contiguous() for i, s in state.items() for k, v in s.items()}


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Restore per-parameter state; hyperparameters stay as built from the (unchanged) config."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = t
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def save_checkpoint(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    blobs = {MODEL: save_tensors(model_tensors(model)), OPTIM: save_tensors(optimizer_tensors(optimizer))}
    for name, data in blobs.items():
        atomic_write_bytes(directory / name, data)
    record = {**state, "files": {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}}
    atomic_write_text(directory / STATE, json.dumps(record))


@dataclass
class Checkpoint:
    directory: Path
    state: dict[str, Any]
    model: dict[str, torch.Tensor]
    optim: dict[str, torch.Tensor]


def _corrupt(path: Path, why: str) -> BlocklabError:
    return BlocklabError(
        f"checkpoint file {path} is corrupt or truncated ({why}); delete {path.parent} to start the run over"
    )


def read_checkpoint(directory: Path) -> Checkpoint | None:
    """The checkpoint in `directory`, or None if none was committed (no state.json)."""
    state_path = directory / STATE
    if not state_path.exists():
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _corrupt(state_path, f"{type(err).__name__}: {err}") from None
    if not isinstance(state, dict) or not isinstance(state.get("files"), dict):
        raise _corrupt(state_path, "it holds no table of tensor-file checksums")
    checksums = state["files"]
    tensors = {}
    for name in (MODEL, OPTIM):
        path = directory / name
        if not path.exists():
            raise _corrupt(path, "the file is missing")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != checksums.get(name):
            raise _corrupt(path, f"its sha256 does not match the one in {STATE}")
        try:
            tensors[name] = load_tensors(data)
        except SafetensorError as err:
            raise _corrupt(path, str(err)) from None
    return Checkpoint(directory, state, tensors[MODEL], tensors[OPTIM])


def unfinished_step(directory: Path) -> int | None:
    """The step of the committed checkpoint of an unfinished run in `directory`; None when there is none, the run
    finished, or state.json cannot be read (fit says what is wrong with it when it resumes)."""
    try:
        state = json.loads((directory / STATE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(state, dict) or state.get("result") is not None or not isinstance(state.get("step"), int):
        return None
    return state["step"]
