"""What every synthetic task returns: tensors per split, plus how to read an example.

A task is a function `make(n_train, n_val, n_test, seed, **params) -> TaskData`.
Inputs are token ids (or float features), labels are class ids (or float targets).
`TaskData.mistakes` prints the first wrong predictions in the task's own notation,
so that every evaluation can show what the model got wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

SPLITS = ("train", "val", "test")


@dataclass
class TaskData:
    name: str
    splits: dict[str, tuple[torch.Tensor, ...]]  # split -> (inputs, targets, *extras)
    vocab_size: int  # 0 for float inputs
    n_classes: int  # 0 for regression
    encoding: str  # one paragraph: what the tensors mean
    render: Callable[[torch.Tensor], str] = field(default=lambda x: str(x.tolist()), repr=False)

    def mistakes(self, split: str, pred: torch.Tensor, limit: int = 5) -> list[str]:
        """`input: model says P, truth T` for the first `limit` wrong predictions of a split."""
        x, y = self.splits[split][:2]
        wrong = (pred != y).nonzero().flatten()[:limit]
        return [f"{self.render(x[i])}: model says {int(pred[i])}, truth {int(y[i])}" for i in wrong.tolist()]


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def split_sizes(n_train: int, n_val: int, n_test: int) -> dict[str, int]:
    return dict(zip(SPLITS, (n_train, n_val, n_test)))
