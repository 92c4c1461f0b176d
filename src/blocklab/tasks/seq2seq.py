"""Sequence-to-sequence tasks for the encoder-decoder (studies 47 and 48).

- reverse: source x_1..x_L over `n_symbols` symbols (ids 0..n_symbols-1) -> target
  x_L..x_1. The splits hold (source (n, L), target (n, L), decoder input (n, L)); the
  decoder input is the target shifted right behind BOS (id n_symbols), which is what a
  teacher-forced decoder reads. One vocabulary of n_symbols + 1 serves both sides. To
  reverse, decoder position t must read source position L - t: cross-attention has to
  learn the anti-diagonal, which makes its pattern easy to see.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import SPLITS, TaskData, generator, split_sizes


@dataclass
class SequenceTaskData(TaskData):
    """A task whose answers are whole sequences: a prediction is wrong if any token is."""

    def mistakes(self, split: str, pred: torch.Tensor, limit: int = 5) -> list[str]:
        x, y = self.splits[split][:2]
        wrong = (pred != y).any(dim=1).nonzero().flatten()[:limit]  # pred, y (n, L)
        return [f"{self.render(x[i])}: model says {self.render(pred[i])}, truth {self.render(y[i])}"
                for i in wrong.tolist()]


def reverse(n_train: int, n_val: int, n_test: int, seed: int, length: int = 6, n_symbols: int = 8) -> SequenceTaskData:
    g, bos = generator(seed), n_symbols
    sizes = split_sizes(n_train, n_val, n_test)

    def sample(n):
        src = torch.randint(0, n_symbols, (n, length), generator=g)  # (n, L)
        tgt = src.flip(1)
        dec_in = torch.cat([torch.full((n, 1), bos), tgt[:, :-1]], dim=1)  # (n, L): BOS y_1..y_(L-1)
        return src, tgt, dec_in

    splits = {s: sample(sizes[s]) for s in SPLITS if sizes[s] > 0}
    return SequenceTaskData("reverse", splits, n_symbols + 1, n_symbols,
                            f"x_1..x_{length} over {n_symbols} symbols -> x_{length}..x_1; decoder input is "
                            f"BOS (id {bos}) then the target shifted right",
                            render=lambda x: " ".join(map(str, x.tolist())))
