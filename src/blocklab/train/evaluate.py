"""Loss and metrics over a whole split, the way every evaluation in a run is computed."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import nn

from .data import Split
from .device import autocast

# loss_fn(model, batch) -> (scalar loss tensor, {"acc": float or 0-d tensor, ...})
LossFn = Callable[[nn.Module, Split], tuple[torch.Tensor, dict[str, Any]]]


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """`with evaluating(model):` runs the block in eval mode (dropout off, BatchNorm on its
    running statistics) and puts back the mode the model was in, even if the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(
    model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int, device: str | torch.device, amp: bool = False,
) -> dict[str, float]:
    """Loss and metrics over a whole split in eval mode, averaged weighted by batch size."""
    device = torch.device(device)
    totals: dict[str, float] = {}
    n_rows = split[0].shape[0]
    with evaluating(model):
        for start in range(0, n_rows, batch_size):
            batch = tuple(t[start : start + batch_size].to(device) for t in split)
            with autocast(device, amp):
                loss, metrics = loss_fn(model, batch)
            n = batch[0].shape[0]
            for key, value in {"loss": loss, **metrics}.items():
                totals[key] = totals.get(key, 0.0) + float(value) * n
    return {key: total / n_rows for key, total in totals.items()}
