"""Training diagnostics: gradient norm and update-to-weight ratio per layer group, and accuracy.

Parameters are grouped by module path, cut one level below the first list index so that
each block's sublayers stay apart:

    embed.tok.weight              -> embed
    blocks.0.attn.q_proj.weight   -> blocks.0.attn
    blocks.0.res_attn.norm.bias   -> blocks.0.res_attn      (that sublayer's norm)
    lm_head.weight                -> lm_head
    layers.3.weight               -> layers.3               (a plain nn.Sequential stack)

A tied weight (GPT's lm_head sharing embed.tok.weight) is one parameter with one gradient,
the sum of both uses; it is reported once, under the name it was first registered with.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def param_group(name: str) -> str:
    """The group of a parameter name, as in the module docstring."""
    parts = name.split(".")
    module = parts[:-1] or parts  # a parameter set directly on the model is its own group
    for i, part in enumerate(module):
        if part.isdigit():
            return ".".join(module[: i + 2])
    return module[0]


class LayerGroups:
    """The trainable parameters of a model, indexed by group, for cheap per-group norms."""

    def __init__(self, model: nn.Module) -> None:
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]  # tied weights once
        self.params = [p for _, p in named]
        self.groups: dict[str, list[int]] = {}
        for i, (name, _) in enumerate(named):
            self.groups.setdefault(param_group(name), []).append(i)

    def grad_norms(self) -> torch.Tensor:
        """(P,) the L2 norm of each parameter's gradient; 0 where a parameter got none."""
        return torch.stack([
            p.grad.detach().norm() if p.grad is not None else p.new_zeros(()) for p in self.params
        ])

    def by_group(self, norms: torch.Tensor) -> dict[str, float]:
        """Per-parameter norms (P,) -> the norm of each group: sqrt of the sum of squares."""
        squares = norms.double().square().tolist()  # one device sync for every group
        return {g: math.sqrt(sum(squares[i] for i in idx)) for g, idx in self.groups.items()}

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    def update_ratios(self, before: list[torch.Tensor]) -> dict[str, float]:
        """||W_after - W_before|| / ||W_before|| per group; NaN for a group whose weights were all 0."""
        deltas = self.by_group(torch.stack([(p.detach() - b).norm() for p, b in zip(self.params, before)]))
        weights = self.by_group(torch.stack([b.norm() for b in before]))
        return {g: deltas[g] / weights[g] if weights[g] > 0 else math.nan for g in self.groups}


def accuracy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int | None = None) -> torch.Tensor:
    """logits (..., C), targets (...) -> 0-d fraction of argmax hits, skipping targets == ignore_index."""
    hits = logits.argmax(dim=-1) == targets  # (...)
    if ignore_index is None:
        return hits.float().mean()
    keep = targets != ignore_index
    return (hits & keep).sum().float() / keep.sum().clamp(min=1)
