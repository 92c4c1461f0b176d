"""A fit callback that records a probe of the model at every evaluation (studies 47 and 48)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from blocklab.io import atomic_write_text, jsonable
from blocklab.train import evaluating


class Snapshots:
    """A fit callback that records take(model) at every evaluation, in eval mode.

    The values live in a JSON file in the pair's work folder: fit runs no callbacks when it
    finds its run already finished, so the file is what remembers them across reruns.
    """

    def __init__(self, path: Path, take: Callable[[nn.Module], Any]) -> None:
        self.path, self.take = path, take
        self.by_step: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    @torch.no_grad()
    def record(self, step: int, model: nn.Module) -> None:
        with evaluating(model):
            self.by_step[str(step)] = jsonable(self.take(model))
        atomic_write_text(self.path, json.dumps(self.by_step))

    def __call__(self, event: str, state) -> None:
        if event == "eval":
            self.record(state.step, state.model)

    def as_dict(self) -> dict:
        steps = sorted(self.by_step, key=int)
        return {"steps": [int(s) for s in steps], "values": [self.by_step[s] for s in steps]}
