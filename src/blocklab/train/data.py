"""Mini-batches drawn from in-memory tensors by epoch-wise random permutations.

The order comes from the sampler's own torch.Generator, seeded from the run's seed, so it
does not depend on how much randomness the model used (dropout), and a checkpoint can
store it exactly: the generator's state before the current epoch's permutation, and the
position in it.
"""
from __future__ import annotations

import torch

from ..errors import BlocklabError
from .device import generator_state, set_generator_state

Split = tuple[torch.Tensor, ...]


def check_data(data: dict[str, Split]) -> None:
    if not isinstance(data, dict) or "train" not in data:
        found = list(data) if isinstance(data, dict) else type(data).__name__
        raise BlocklabError(f"data must be a dict with a 'train' split (and optional 'val', 'test'); got {found}")
    for name, split in data.items():
        if not isinstance(split, (tuple, list)) or not split or not all(isinstance(t, torch.Tensor) for t in split):
            raise BlocklabError(f"data[{name!r}] must be a non-empty tuple of tensors")
        sizes = [t.shape[0] if t.ndim else None for t in split]
        if len(set(sizes)) != 1 or not sizes[0]:
            raise BlocklabError(f"data[{name!r}] tensors need one shared, non-zero first dimension; got {sizes}")


class BatchSampler:
    """Endless batches of `batch_size` rows; each epoch is a fresh permutation.

    The tail of an epoch that cannot fill a batch is skipped, so every batch has the same
    size: a BatchNorm study must not meet a stray batch of one. A split smaller than
    batch_size is used whole.
    """

    def __init__(self, split: Split, batch_size: int, seed: int) -> None:
        self.split = tuple(split)
        self.n = split[0].shape[0]
        self.batch_size = min(batch_size, self.n)
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = -1
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.epoch += 1
        self.epoch_start = generator_state(self.generator)
        self.perm = torch.randperm(self.n, generator=self.generator)  # (n,)
        self.pos = 0

    def next(self) -> Split:
        if self.pos + self.batch_size > self.n:
            self._new_epoch()
        idx = self.perm[self.pos : self.pos + self.batch_size]  # (batch_size,)
        self.pos += self.batch_size
        return tuple(t[idx.to(t.device)] for t in self.split)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "epoch_start": self.epoch_start, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        set_generator_state(self.generator, state["epoch_start"])
        self.epoch = state["epoch"] - 1  # _new_epoch counts it again
        self._new_epoch()
        self.pos = state["pos"]
