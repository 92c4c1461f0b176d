"""Study 45's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config, NonEmpty, PositiveFloat, PositiveInt
from blocklab.train import TrainConfig

PREFIX = "stack.blocks."  # VectorNet's block parameters: stack.blocks.<k>.mlp.*
TURNS = 2.0  # spiral turns of the task, also drawn in the decision-boundary figure
INIT_LABEL = {"default": "normal(0, 0.02)", "he": "He, sqrt(2/d)"}


@dataclass
class SkipConfig(Config):
    # every trained network; log_every is derived from grad_logs
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, batch_size=64, lr=1e-3,
                                                                     eval_every=200))
    d_model: PositiveInt = 32
    depths: NonEmpty[tuple[PositiveInt, ...]] = (10, 50)  # layers (2 per block) of the trained networks
    probe_depths: NonEmpty[tuple[PositiveInt, ...]] = (4, 10, 20, 50, 100)  # layers where the init gradient is measured
    inits: NonEmpty[tuple[Literal[tuple(INIT_LABEL)], ...]] = ("default", "he")
    failure_scales: tuple[PositiveFloat, ...] = (0.01, 100.0)  # residual_scale at the first depth
    n_train: PositiveInt = 2000
    grad_logs: PositiveInt = 10  # per-block gradient norms logged this many times during training
    grid: PositiveInt = 41  # decision-boundary points per axis
