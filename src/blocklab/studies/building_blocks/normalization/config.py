"""Study 46's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config, NonEmpty, PositiveFloat, PositiveInt
from blocklab.train import TrainConfig

MAIN_BATCH = 32
LABEL = {"none": "no norm", "batch": "BatchNorm", "layer": "LayerNorm", "rms": "RMSNorm"}


@dataclass
class NormConfig(Config):
    # every cell's training; batch_size is each cell's (MAIN_BATCH or one of batch_sizes), lr the main cells'
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=800, lr=1e-3, batch_size=MAIN_BATCH,
                                                                     eval_every=None, log_every=10))
    high_lr: PositiveFloat = 1e-2  # the learning-rate sweep's second point, for none and layer
    d_model: PositiveInt = 32
    n_heads: PositiveInt = 2
    n_layers: PositiveInt = 3
    n_train: PositiveInt = 5000
    norms: NonEmpty[tuple[Literal[tuple(LABEL)], ...]] = ("none", "batch", "layer", "rms")
    batch_sizes: tuple[PositiveInt, ...] = (1, 4, 32, 128)  # BatchNorm at each; LayerNorm at each but 1
