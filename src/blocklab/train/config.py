"""TrainConfig: every knob of a training run, validated when built.

A study's `--set key=value` lands here, so each field names its unit and each error
names the field, the bad value and what would be valid.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Mapping

from ..errors import ConfigError, choice_error

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "warmup", "cosine", "step")
DEVICES = ("auto", "cpu", "cuda", "mps")
MODES = ("max", "min")


@dataclass
class TrainConfig:
    """One training run. Steps count optimizer updates, starting at 1."""

    optimizer: str = "adamw"
    lr: float = 1e-3  # peak learning rate; schedules multiply it by a factor in [0, 1]
    weight_decay: float = 0.0  # on weight matrices and embeddings only, never on biases or norm gains
    momentum: float = 0.9  # SGD only
    betas: tuple[float, float] = (0.9, 0.999)  # Adam and AdamW only

    schedule: str = "constant"
    warmup_steps: int = 0  # linear ramp from lr/warmup_steps to lr; "warmup" needs it, "cosine"/"step" may add it
    step_size: int = 1000  # "step": multiply the lr by gamma every step_size updates
    gamma: float = 0.1

    steps: int = 1000
    batch_size: int = 32
    grad_clip: float | None = None  # cap on the total gradient norm; None: no clipping
    eval_every: int | None = 100  # None: evaluate only at the end
    log_every: int | None = 10  # None: no per-step records

    early_stop_metric: str | None = None  # a key of the evaluation record, e.g. "val_acc"
    early_stop_mode: str = "max"  # "max": higher is better
    patience: int | None = None  # evaluations without improvement before stopping

    diverge_grad_norm: float | None = 1e4  # total grad norm above this marks divergence; None: only NaN/inf does
    seed: int = 0
    device: str = "auto"
    amp: bool = False  # bf16 autocast on CUDA; ignored (with a note) elsewhere
    checkpoint_every: int | None = None  # with a run_dir; a final checkpoint is always written
    grad_checkpointing: bool = False  # recompute each block in backward: less memory, ~1 more forward pass
    tensorboard: bool = False  # also write run_dir/tensorboard event files (pip install 'blocklab[tensorboard]')

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):  # JSON and --set give lists
            self.betas = tuple(self.betas)
        self.validate()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping, rejecting keys TrainConfig does not have."""
        _check_keys(values)
        return cls(**dict(values))

    def replace(self, **changes: Any) -> TrainConfig:
        _check_keys(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def validate(self) -> None:
        for name, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("device", DEVICES),
                              ("early_stop_mode", MODES)):
            if getattr(self, name) not in choices:
                raise choice_error("TrainConfig", name, getattr(self, name), choices)
        for name in ("steps", "batch_size", "step_size"):
            _check(self, name, _is_int(getattr(self, name)) and getattr(self, name) > 0, "a positive integer")
        for name in ("eval_every", "log_every", "patience", "checkpoint_every"):
            value = getattr(self, name)
            _check(self, name, value is None or (_is_int(value) and value > 0), "a positive integer or None")
        _check(self, "warmup_steps", _is_int(self.warmup_steps) and 0 <= self.warmup_steps <= self.steps,
               f"an integer in [0, steps={self.steps}]")
        _check(self, "seed", _is_int(self.seed) and self.seed >= 0, "a non-negative integer")
        _check(self, "lr", _is_num(self.lr) and self.lr > 0, "a number > 0")
        _check(self, "weight_decay", _is_num(self.weight_decay) and self.weight_decay >= 0, "a number >= 0")
        _check(self, "momentum", _is_num(self.momentum) and 0 <= self.momentum < 1, "a number in [0, 1)")
        _check(self, "gamma", _is_num(self.gamma) and self.gamma > 0, "a number > 0")
        _check(self, "betas", isinstance(self.betas, tuple) and len(self.betas) == 2
               and all(_is_num(b) and 0 <= b < 1 for b in self.betas), "two numbers in [0, 1)")
        for name in ("grad_clip", "diverge_grad_norm"):
            value = getattr(self, name)
            _check(self, name, value is None or (_is_num(value) and value > 0), "a number > 0 or None")
        for name in ("amp", "grad_checkpointing", "tensorboard"):
            _check(self, name, isinstance(getattr(self, name), bool), "True or False")
        _check(self, "early_stop_metric", self.early_stop_metric is None or isinstance(self.early_stop_metric, str),
               "a metric name such as 'val_acc', or None")
        if self.schedule == "warmup" and self.warmup_steps == 0:
            raise ConfigError("TrainConfig.schedule='warmup' needs warmup_steps > 0 (got 0)")
        if self.schedule == "constant" and self.warmup_steps > 0:
            raise ConfigError(
                f"TrainConfig.warmup_steps={self.warmup_steps} has no effect with schedule='constant'; "
                "choose schedule 'warmup', 'cosine' or 'step', or set warmup_steps=0"
            )
        if (self.early_stop_metric is None) != (self.patience is None):
            raise ConfigError(
                f"TrainConfig.early_stop_metric={self.early_stop_metric!r} and patience={self.patience!r} "
                "go together: set both to stop early, or neither"
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(cfg: TrainConfig, name: str, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(f"TrainConfig.{name}={getattr(cfg, name)!r} is not valid; it must be {expected}")


def _check_keys(values: Mapping[str, Any]) -> None:
    valid = [f.name for f in fields(TrainConfig)]
    for key in values:
        if key not in valid:
            raise ConfigError(f"TrainConfig has no field {key!r}; valid fields: {', '.join(valid)}")
