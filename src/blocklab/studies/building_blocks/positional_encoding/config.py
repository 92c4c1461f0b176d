"""Study 49's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass

TASK_PES = ("none", "sinusoidal", "learned", "alibi", "rope")
EXTRAP_PES = ("sinusoidal", "learned", "alibi", "rope")


@dataclass
class PositionalConfig:
    length: int = 5
    n_symbols: int = 10
    n_train: int = 4000
    n_val: int = 200
    n_test: int = 500
    d_model: int = 32
    n_heads: int = 4
    d_ff: int = 64
    n_layers: int = 2
    lr: float = 3e-3
    batch_size: int = 64
    steps: int = 500
    eval_every: int = 100
    extrap_length: int = 100
    extrap_test_lengths: tuple[int, ...] = (200, 500, 1000)
    extrap_steps: int = 1000  # batches of 32 at length 100: what the models need to learn, and most of the time
    extrap_batch_size: int = 32
    extrap_n_test: int = 100  # examples per test length
    eval_batch_size: int = 10  # a batch at length 1000 holds 10 x 4 heads x 1002^2 attention weights
    bad_bases: tuple[float, ...] = (1.5, 1e8)
