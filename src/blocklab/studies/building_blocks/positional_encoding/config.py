"""Study 49's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass, field

from blocklab.config import Config, NonEmpty, PositiveFloat, PositiveInt
from blocklab.train import TrainConfig

TASK_PES = ("none", "sinusoidal", "learned", "alibi", "rope")
EXTRAP_PES = ("sinusoidal", "learned", "alibi", "rope")


@dataclass
class PositionalConfig(Config):
    length: PositiveInt = 5
    n_symbols: PositiveInt = 10
    n_train: PositiveInt = 4000
    n_val: PositiveInt = 200
    n_test: PositiveInt = 500
    d_model: PositiveInt = 32
    n_heads: PositiveInt = 4
    d_ff: PositiveInt = 64
    n_layers: PositiveInt = 2
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=500, lr=3e-3, batch_size=64, eval_every=100,
                                                                     log_every=None))  # the task-* cells
    extrap_length: PositiveInt = 100
    extrap_test_lengths: NonEmpty[tuple[PositiveInt, ...]] = (200, 500, 1000)
    # the extrap-* and extrap-base=* cells: 1000 batches of 32 at length 100 are what the models need to learn,
    # and most of the study's time
    extrap_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1000, lr=3e-3, batch_size=32,
                                                                            eval_every=100, log_every=None))
    extrap_n_test: PositiveInt = 100  # examples per test length
    eval_batch_size: PositiveInt = 10  # a batch at length 1000 holds 10 x 4 heads x 1002^2 attention weights
    bad_bases: tuple[PositiveFloat, ...] = (1.5, 1e8)
