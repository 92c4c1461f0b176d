"""Study 45's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass

PREFIX = "stack.blocks."  # VectorNet's block parameters: stack.blocks.<k>.mlp.*
TURNS = 2.0  # spiral turns of the task, also drawn in the decision-boundary figure
INIT_LABEL = {"default": "normal(0, 0.02)", "he": "He, sqrt(2/d)"}


@dataclass
class SkipConfig:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    d_model: int = 32
    depths: tuple[int, ...] = (10, 50)  # layers (2 per block) of the trained networks
    probe_depths: tuple[int, ...] = (4, 10, 20, 50, 100)  # layers at which the init gradient is measured
    inits: tuple[str, ...] = ("default", "he")
    failure_scales: tuple[float, ...] = (0.01, 100.0)  # residual_scale at the first depth
    n_train: int = 2000
    eval_every: int = 200
    grad_logs: int = 10  # per-block gradient norms logged this many times during training
    grid: int = 41  # decision-boundary points per axis
