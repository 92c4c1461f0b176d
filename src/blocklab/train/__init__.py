"""blocklab.train: the one trainer every study uses (config, optimizers and schedules, devices, diagnostics)."""
from .config import TrainConfig
from .device import resolve_device, seed_everything
from .metrics import accuracy, param_group
from .optim import build_optimizer, build_scheduler, lr_factor

__all__ = [
    "TrainConfig", "accuracy", "build_optimizer", "build_scheduler", "lr_factor", "param_group", "resolve_device",
    "seed_everything",
]
