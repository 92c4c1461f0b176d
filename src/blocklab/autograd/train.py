"""Training the numpy GPT: batches of token windows, AdamW/Adam/SGD, clipping, schedule, eval loss.

It takes the same TrainConfig as blocklab.train (and the same learning-rate schedule,
`lr_factor`, and the same rule of decaying matrices only), so one study can run on either
engine with one config. The fields that only the torch trainer implements (device, amp,
early stopping, checkpoints) must keep their defaults here; `fit` says so if they do not.

One step: sample a batch -> loss -> backward -> global grad norm -> stop if not finite or
above diverge_grad_norm -> clip -> set lr -> optimizer step.

`fit` calls runtime.keep_freed_memory() first: glibc then reuses freed activation buffers
instead of returning them to the system, which makes large steps up to twice as fast.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from ..errors import ConfigError
from ..runtime import keep_freed_memory
from ..train.config import TrainConfig
from ..train.optim import lr_factor
from .gpt import GPT
from .optim import SGD, Adam, AdamW, Optimizer, clip_grad_norm, decay_groups
from .tensor import no_grad

Batch = tuple[np.ndarray, np.ndarray]  # inputs (B, T) and targets (B, T), integer ids
TORCH_ONLY = {"device": ("auto", "cpu"), "amp": (False,), "early_stop_metric": (None,), "checkpoint_every": (None,)}


class TokenWindows:
    """A 1-D token stream cut into (x, y) windows: x = tokens[i : i+T], y = tokens[i+1 : i+T+1]."""

    def __init__(self, tokens: np.ndarray, context: int) -> None:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or len(tokens) <= context:
            raise ConfigError(f"TokenWindows needs a 1-D stream longer than context={context}; "
                              f"got shape {tokens.shape}")
        self.tokens, self.context = tokens, context
        self.windows = np.lib.stride_tricks.sliding_window_view(tokens, context + 1)  # (N - T, T + 1), a view

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        rows = self.windows[rng.integers(0, len(self.windows), batch_size)]  # (B, T + 1), random starts
        return rows[:, :-1], rows[:, 1:]

    def batches(self, batch_size: int) -> Iterator[Batch]:
        """Non-overlapping windows in order, for evaluation: each target token at most once (a
        tail shorter than one window is left out)."""
        starts = list(range(0, len(self.windows), self.context))
        for i in range(0, len(starts), batch_size):
            rows = self.windows[starts[i : i + batch_size]]
            yield rows[:, :-1], rows[:, 1:]


class Examples:
    """Fixed (x, y) pairs, e.g. the memorization task's patterns; targets may hold ignore_index."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = np.asarray(x), np.asarray(y)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if batch_size >= len(self.x):
            return self.x, self.y
        rows = rng.choice(len(self.x), batch_size, replace=False)
        return self.x[rows], self.y[rows]

    def batches(self, batch_size: int) -> Iterator[Batch]:
        for i in range(0, len(self.x), batch_size):
            yield self.x[i : i + batch_size], self.y[i : i + batch_size]


def evaluate(model: GPT, data: TokenWindows | Examples, batch_size: int = 64, ignore_index: int = -100) -> dict:
    """Mean cross-entropy per target token over a whole split, in nats and in bits (eval mode, no graph)."""
    was_training, total, count = model.training, 0.0, 0
    model.eval()
    try:
        with no_grad():
            for x, y in data.batches(batch_size):
                n = int((y != ignore_index).sum())
                total += model.loss(x, y, ignore_index).item() * n
                count += n
    finally:
        model.train(was_training)
    loss = total / count if count else math.nan
    return {"loss": loss, "bits_per_token": loss / math.log(2)}


@dataclass
class History:
    """What `fit` records: one row per log_every steps, one per evaluation."""

    steps: list[dict] = field(default_factory=list)  # step, loss, lr, grad_norm
    evals: list[dict] = field(default_factory=list)  # step, val_loss, val_bits_per_token
    diverged_at: int | None = None
    seconds: float = 0.0


def build_optimizer(model: GPT, cfg: TrainConfig) -> Optimizer:
    groups = decay_groups(model, cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return {"adam": Adam, "adamw": AdamW}[cfg.optimizer](groups, lr=cfg.lr, betas=cfg.betas, weight_decay=0.0)


def check_train_config(cfg: TrainConfig, study: bool = False) -> None:
    """Refuse what only blocklab.train.fit does. A study's config (`study`) must also say checkpoint_seconds=None:
    `blocklab run` would promise mid-run checkpoints, which this trainer (like fit without a run_dir) never writes."""
    torch_only = {**TORCH_ONLY, "checkpoint_seconds": (None,)} if study else TORCH_ONLY
    for name, allowed in torch_only.items():
        if getattr(cfg, name) not in allowed:
            raise ConfigError(
                f"TrainConfig.{name}={getattr(cfg, name)!r} is not available with the numpy engine; "
                f"choose one of: {', '.join(map(repr, allowed))} (or train with blocklab.train.fit)"
            )


def fit(model: GPT, train: TokenWindows | Examples, cfg: TrainConfig, val: TokenWindows | Examples | None = None,
        callbacks: Sequence[Callable[[int, GPT, dict], None]] = (), ignore_index: int = -100) -> History:
    """Train for cfg.steps updates. At every eval_every steps and at the end, `val` (if given)
    is evaluated and each callback(step, model, eval_record) is called, e.g. to save a checkpoint."""
    check_train_config(cfg)
    keep_freed_memory()
    rng = np.random.default_rng(cfg.seed)
    opt, history, start = build_optimizer(model, cfg), History(), time.perf_counter()
    model.train()
    for step in range(1, cfg.steps + 1):
        x, y = train.sample(cfg.batch_size, rng)
        opt.zero_grad()
        loss = model.loss(x, y, ignore_index)
        loss.backward()
        norm = clip_grad_norm(opt.params, cfg.grad_clip if cfg.grad_clip is not None else math.inf)
        limit = cfg.diverge_grad_norm if cfg.diverge_grad_norm is not None else math.inf
        if not (math.isfinite(loss.item()) and math.isfinite(norm) and norm <= limit):
            history.diverged_at = step  # the bad update is not applied
            break
        opt.lr = cfg.lr * lr_factor(step - 1, cfg)
        opt.step()
        if cfg.log_every and (step % cfg.log_every == 0 or step == 1):
            history.steps.append({"step": step, "loss": loss.item(), "lr": opt.lr, "grad_norm": norm})
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
            record = {"step": step}
            if val is not None:
                result = evaluate(model, val, cfg.batch_size, ignore_index)
                record.update(val_loss=result["loss"], val_bits_per_token=result["bits_per_token"])
            history.evals.append(record)
            for cb in callbacks:
                cb(step, model, record)
    history.seconds = time.perf_counter() - start
    return history
