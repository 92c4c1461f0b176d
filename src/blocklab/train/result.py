"""What a run hands out: the TrainResult at the end, and the TrainState that callbacks see."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..io import jsonable
from .config import TrainConfig


@dataclass
class TrainResult:
    """The outcome of `fit`.

    final: the last evaluation record ({"step", "train_loss", "val_loss", "val_acc", ..., "lr"});
    for a diverged run, {"step", "loss", "grad_norm"} of the step that diverged (grad_norm is
    None when the loss itself was not finite, as backward never ran).
    steps_done counts the updates applied; a run that diverged at step k applied k - 1.
    """

    final: dict[str, Any]
    history: list[dict[str, Any]]
    steps_log: list[dict[str, Any]]
    diverged: bool = False
    diverged_at: int | None = None
    early_stopped: bool = False
    steps_done: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON: NaN and infinities become None (a diverged loss is told by `diverged`)."""
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainResult:
        return cls(**values)


@dataclass
class TrainState:
    """What a callback is given. `record` is, on "step", {"step", "loss", <metrics>, "lr"} plus
    the gradient diagnostics on log steps; on "eval", the evaluation record; on "end", `final`."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    cfg: TrainConfig
    step: int
    history: list[dict[str, Any]]
    steps_log: list[dict[str, Any]]
    record: dict[str, Any]

