"""blocklab.train: the one trainer every study uses.

    from blocklab.train import TrainConfig, fit, evaluate, TrainResult
    result = fit(model, {"train": (X, Y), "val": (Xv, Yv)}, loss_fn, TrainConfig(steps=500), run_dir="runs/x")

`loss_fn(model, batch) -> (loss, {"acc": ...})`; see trainer.py for the loop, checkpoint.py
for what a run directory holds, metrics.py for the per-layer diagnostics, tensorboard.py for
TrainConfig.tensorboard's event files, and quantize.py for int8 inference after training:

    int8_model = quantize_int8(model)          # or compare_int8(model, data["test"], loss_fn)
"""
from .config import TrainConfig
from .device import resolve_device, seed_everything
from .evaluate import evaluate, evaluating
from .metrics import accuracy, param_group
from .optim import build_optimizer, build_scheduler, lr_factor
from .quantize import Int8Linear, compare_int8, quantize_int8, state_bytes
from .result import TrainResult, TrainState
from .trainer import fit

__all__ = [
    "Int8Linear", "TrainConfig", "TrainResult", "TrainState", "accuracy", "build_optimizer", "build_scheduler",
    "compare_int8", "evaluate", "evaluating", "fit", "lr_factor", "param_group", "quantize_int8", "resolve_device",
    "seed_everything", "state_bytes",
]
