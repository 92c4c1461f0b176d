"""TrainConfig: every knob of a training run, validated when built.

A study's `--set key=value` lands here, so each field names its unit and each error
names the field, the bad value and what would be valid.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from ..config import (
    Config,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ProperFraction,
    Range,
    Seed,
)
from ..errors import ConfigError

OPTIMIZERS = ("adamw", "adam", "sgd", "muon")
SCHEDULES = ("constant", "warmup", "cosine", "step", "wsd")
DEVICES = ("auto", "cpu", "cuda", "mps")
MODES = ("max", "min")
# Fields that change no value of a run on CPU (only where it runs, how often it is saved, what it costs):
# a resumed run, or a rerun of a study, may change them.
RESUMABLE = ("device", "checkpoint_every", "checkpoint_seconds", "grad_checkpointing", "tensorboard")


@dataclass
class TrainConfig(Config):
    """One training run. Steps count optimizer updates, starting at 1."""

    optimizer: Literal[OPTIMIZERS] = "adamw"
    lr: PositiveFloat = 1e-3  # peak learning rate; schedules multiply it by a factor in [0, 1]
    weight_decay: NonNegativeFloat = 0.0  # on weight matrices and embeddings only, never on biases or norm gains
    momentum: ProperFraction = 0.9  # SGD only
    betas: tuple[ProperFraction, ProperFraction] = (0.9, 0.999)  # Adam, AdamW, and Muon's AdamW part
    # "muon": Muon on the matrices inside the blocks, AdamW (lr, betas) on embeddings, head, gains (train/muon.py)
    muon_lr: PositiveFloat = 0.02  # Muon's peak learning rate; the schedule scales it as it scales lr
    muon_momentum: ProperFraction = 0.95

    schedule: Literal[SCHEDULES] = "constant"
    warmup_steps: NonNegativeInt = 0  # linear ramp from lr/warmup_steps to lr; "warmup" needs it, others may add it
    step_size: PositiveInt = 1000  # "step": multiply the lr by gamma every step_size updates
    gamma: PositiveFloat = 0.1
    decay_fraction: Annotated[float, Range(gt=0, le=1)] = 0.2  # "wsd": the last fraction of steps decays to 0

    steps: PositiveInt = 1000
    batch_size: PositiveInt = 32
    grad_clip: PositiveFloat | None = None  # cap on the total gradient norm; None: no clipping
    eval_every: PositiveInt | None = 100  # None: evaluate only at the end
    log_every: PositiveInt | None = 10  # None: no per-step records

    early_stop_metric: str | None = None  # a key of the evaluation record, e.g. "val_acc"
    early_stop_mode: Literal[MODES] = "max"  # "max": higher is better
    patience: PositiveInt | None = None  # evaluations without improvement before stopping

    diverge_grad_norm: PositiveFloat | None = 1e4  # grad norm above this marks divergence; None: only NaN/inf do
    seed: Seed = 0
    device: Literal[DEVICES] = "auto"
    amp: bool = False  # bf16 autocast on CUDA; ignored (with a note) elsewhere
    # With a run_dir, a checkpoint every checkpoint_every steps and whenever checkpoint_seconds of wall time have
    # passed since the last one (the default keeps at most a minute of training at risk, for a few ms per save);
    # None turns either off. A final checkpoint is always written.
    checkpoint_every: PositiveInt | None = None
    checkpoint_seconds: PositiveFloat | None = 60.0
    grad_checkpointing: bool = False  # recompute each block in backward: less memory, ~1 more forward pass
    compile: bool = False  # torch.compile the model for training steps (evaluation stays eager); slow to start
    tensorboard: bool = False  # also write run_dir/tensorboard event files (pip install 'blocklab[tensorboard]')

    @property
    def decay_steps(self) -> int:
        """The "wsd" schedule's final linear decay, in updates (at least one)."""
        return max(1, round(self.decay_fraction * self.steps))

    def validate(self) -> None:
        """Each field against its annotation (blocklab.config), then the rules that tie fields together."""
        super().validate()
        if self.warmup_steps > self.steps:
            raise ConfigError(f"TrainConfig.warmup_steps={self.warmup_steps} is not valid; "
                              f"it must be an integer in [0, steps={self.steps}]")
        if self.schedule == "wsd" and self.warmup_steps + self.decay_steps > self.steps:
            raise ConfigError(
                f"TrainConfig.schedule='wsd' needs warmup_steps + decay steps <= steps, but {self.warmup_steps} + "
                f"round(decay_fraction={self.decay_fraction} x steps={self.steps}) = "
                f"{self.warmup_steps + self.decay_steps}; lower warmup_steps or decay_fraction"
            )
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

