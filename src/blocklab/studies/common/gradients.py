"""Per-block gradient norms at initialization and during training (studies 45 and 46)."""
from __future__ import annotations

import copy
import math
from typing import Callable, Mapping

import torch
from torch import nn

from blocklab.train.metrics import LayerGroups


def gradient_norms(model: nn.Module, loss_fn: Callable, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """Gradient norm of each parameter group (as fit logs them) after one backward pass on
    `batch`, taken on a copy so that the model (and any BatchNorm running statistics) is untouched."""
    probe = copy.deepcopy(model)
    loss, _ = loss_fn(probe, batch)
    loss.backward()
    groups = LayerGroups(probe)
    return groups.by_group(groups.grad_norms())


def per_block(norms: Mapping[str, float], n_blocks: int, prefix: str, key: str = "") -> list[float]:
    """Group norms -> one norm per block (root of the summed squares of its groups).
    `key` is the prefix of the record's names: "grad_norm/" for fit's step logs."""
    out = []
    for k in range(n_blocks):
        head = f"{key}{prefix}{k}."
        out.append(math.sqrt(sum(v * v for name, v in norms.items() if name.startswith(head))))
    return out
