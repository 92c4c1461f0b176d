"""How the training-dynamics study trains its model (nn/models/operations.py, the seed's
2-block GPT): the answer loss at the last position and fit() with resuming checkpoints."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from blocklab.lab.registry import CellContext
from blocklab.nn import GPT
from blocklab.nn.models.operations import logits_for
from blocklab.tasks.base import SPLITS, TaskData
from blocklab.train import TrainConfig, TrainResult, accuracy, fit
from blocklab.train.trainer import Callback


def answer_loss(model: GPT, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy of the last position's logits against the answer token; for fit()."""
    x, y = batch[:2]
    logits = logits_for(model, x)
    return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}


def train_model(task: TaskData, model: GPT, train_cfg: TrainConfig, ctx: CellContext | None = None,
                callbacks: Sequence[Callback] = (), splits: Sequence[str] = SPLITS, resume: bool = True) -> TrainResult:
    """fit() on the task's `splits` (fit evaluates val and test at the end if given) with `answer_loss`.
    With a ctx, progress goes to ctx.progress and, if `resume`, checkpoints to ctx.work_dir, so an
    interrupted cell resumes from its last checkpoint."""
    data = {s: task.splits[s] for s in splits if s in task.splits}
    return fit(model, data, answer_loss, train_cfg, run_dir=ctx.work_dir if ctx and resume else None,
               callbacks=callbacks, progress=ctx.progress if ctx else None)
