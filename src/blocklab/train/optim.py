"""Optimizers and learning-rate schedules, each resolved once from a TrainConfig.

Schedules are a factor of cfg.lr as a function of the update index s (0 for the first
update, as LambdaLR counts):

    warmup      s < W:  (s + 1) / W          (never a wasted zero-lr first step)
    constant    1
    cosine      0.5 * (1 + cos(pi * (s - W) / (steps - W)))   falls from 1 towards 0 at `steps`
    step        gamma ** ((s - W) // step_size)
    wsd         1, then (steps - s) / D over the last D = decay_steps updates   warmup-stable-decay: the
                stable phase trains at the peak lr, the straight decay to 0 cashes it in (Hu et al., 2024)

W = warmup_steps; after warmup, "cosine" and "step" run on the remaining updates, and
"warmup" stays at 1.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Mapping

import torch
from torch import nn

from .config import TrainConfig
from .muon import build_muon


def parameter_groups(model: nn.Module, weight_decay: float,
                     replace: Mapping[str, torch.Tensor] | None = None) -> list[dict]:
    """Decay weight matrices and embeddings (ndim >= 2) only: decaying biases and norm gains
    pulls them towards 0 for no regularising gain (the GPT-2 and nanoGPT convention).

    `replace` maps parameter names to the tensors to optimize in their place (train/stacked.py's
    (K, *shape) stacks); each is grouped by the ndim of the parameter it stands for."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]  # tied weights appear once
    params = [(p, replace[n] if replace is not None else p) for n, p in named]
    decay = [t for p, t in params if p.ndim >= 2]
    no_decay = [t for p, t in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, cfg: TrainConfig,
                    replace: Mapping[str, torch.Tensor] | None = None) -> torch.optim.Optimizer:
    """The optimizer cfg names over `model`'s parameters (or over `replace`, as parameter_groups takes it)."""
    if cfg.optimizer == "muon":
        return build_muon(model, cfg, replace)
    groups = parameter_groups(model, cfg.weight_decay, replace)
    # foreach: one multi-tensor kernel per step instead of a Python loop over parameters;
    # torch only picks it by itself on CUDA, and it is measurably faster on the CPU too.
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, foreach=True)
    optimizer = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.optimizer]
    return optimizer(groups, lr=cfg.lr, betas=cfg.betas, foreach=True)


def _constant(s: int, cfg: TrainConfig) -> float:
    return 1.0


def _cosine(s: int, cfg: TrainConfig) -> float:
    progress = (s - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _step(s: int, cfg: TrainConfig) -> float:
    return cfg.gamma ** ((s - cfg.warmup_steps) // cfg.step_size)


def _wsd(s: int, cfg: TrainConfig) -> float:
    return min(1.0, (cfg.steps - s) / cfg.decay_steps)


SHAPES: dict[str, Callable[[int, TrainConfig], float]] = {
    "constant": _constant, "warmup": _constant, "cosine": _cosine, "step": _step, "wsd": _wsd,
}


def lr_factor(s: int, cfg: TrainConfig) -> float:
    """The multiplier of cfg.lr for update index s (0-based)."""
    if s < cfg.warmup_steps:
        return (s + 1) / cfg.warmup_steps
    return SHAPES[cfg.schedule](s, cfg)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, cfg=cfg))
