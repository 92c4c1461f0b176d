"""Study 46's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass

MAIN_BATCH = 32
LABEL = {"none": "no norm", "batch": "BatchNorm", "layer": "LayerNorm", "rms": "RMSNorm"}


@dataclass
class NormConfig:
    steps: int = 800
    lr: float = 1e-3
    high_lr: float = 1e-2  # the learning-rate sweep's second point, for none and layer
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 3
    n_train: int = 5000
    norms: tuple[str, ...] = ("none", "batch", "layer", "rms")
    batch_sizes: tuple[int, ...] = (1, 4, 32, 128)  # BatchNorm at each; LayerNorm at each but 1
    log_every: int = 10
