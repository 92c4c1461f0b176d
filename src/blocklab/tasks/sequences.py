"""Token-sequence classification tasks of seed 000 (studies 47, 49, 50, 51).

All sequences are drawn uniformly from `n_symbols` symbols (ids 0..n_symbols-1); extra
ids after the symbols are special tokens. Every task's answer depends on *where*
tokens are, so none can be solved from the bag of tokens alone.

- copy_first: x_1..x_L -> x_1. Chance is 1/n_symbols.
- first_vs_last: [Q] x_1..x_L with Q in {FIRST, LAST} (ids n_symbols, n_symbols+1)
  -> x_1 or x_L. Without positions a model sees a set and cannot tell which end is which.
- first_equals_last: x_1..x_L -> 1 if x_1 == x_L else 0, balanced: half the examples
  copy x_1 into x_L. Chance is 50%.
- lookup: x_1..x_L [P_k] (P_k = id n_symbols + k) -> x_k: read the symbol at the
  position named by the last token. Chance is 1/n_symbols.
- first_vs_last_mixed: first_vs_last at mixed lengths, right-padded (length-extrapolation studies).

chance_accuracy gives the accuracy of a guess on the two tasks the length-extrapolation studies
share (sortedness and first-vs-last): a property of the task, read from the config, never from
a run's metrics (which are null where a run diverged).
"""
from __future__ import annotations

import torch

from .base import SPLITS, TaskData, generator, split_sizes


def _symbols(n: int, length: int, n_symbols: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, n_symbols, (n, length), generator=g)  # (n, L)


def _build(name, sizes, seed, sample, vocab, n_classes, encoding) -> TaskData:
    g = generator(seed)
    splits = {s: sample(sizes[s], g) for s in SPLITS if sizes[s] > 0}
    return TaskData(name, splits, vocab, n_classes, encoding, render=lambda x: " ".join(map(str, x.tolist())))


def copy_first(n_train: int, n_val: int, n_test: int, seed: int, length: int = 5, n_symbols: int = 5) -> TaskData:
    def sample(n, g):
        x = _symbols(n, length, n_symbols, g)
        return x, x[:, 0].clone()

    return _build("copy_first", split_sizes(n_train, n_val, n_test), seed, sample, n_symbols, n_symbols,
                  f"x_1..x_{length} over {n_symbols} symbols -> x_1")


def first_vs_last(n_train: int, n_val: int, n_test: int, seed: int, length: int = 5, n_symbols: int = 10) -> TaskData:
    first, last = n_symbols, n_symbols + 1

    def sample(n, g):
        x = _symbols(n, length, n_symbols, g)
        which = torch.randint(0, 2, (n,), generator=g)  # 0: first, 1: last
        query = torch.where(which == 0, first, last)[:, None]
        y = torch.where(which == 0, x[:, 0], x[:, -1])
        return torch.cat([query, x], dim=1), y  # (n, 1 + L)

    return _build("first_vs_last", split_sizes(n_train, n_val, n_test), seed, sample, n_symbols + 2, n_symbols,
                  f"[Q] x_1..x_{length}, Q = {first} (FIRST) or {last} (LAST), over {n_symbols} symbols "
                  f"-> x_1 or x_{length}")


def first_equals_last(n_train: int, n_val: int, n_test: int, seed: int, length: int = 8,
                      n_symbols: int = 10) -> TaskData:
    def sample(n, g):
        x = _symbols(n, length, n_symbols, g)
        same = torch.randint(0, 2, (n,), generator=g).bool()
        # Negatives must really differ: shift x_L off x_1 by a nonzero amount.
        other = (x[:, 0] + torch.randint(1, n_symbols, (n,), generator=g)) % n_symbols
        x[:, -1] = torch.where(same, x[:, 0], other)
        return x, same.long()

    return _build("first_equals_last", split_sizes(n_train, n_val, n_test), seed, sample, n_symbols, 2,
                  f"x_1..x_{length} over {n_symbols} symbols -> 1 if x_1 == x_{length} else 0 (balanced)")


def lookup(n_train: int, n_val: int, n_test: int, seed: int, length: int = 8, n_symbols: int = 10) -> TaskData:
    def sample(n, g):
        x = _symbols(n, length, n_symbols, g)
        k = torch.randint(0, length, (n,), generator=g)
        y = x.gather(1, k[:, None]).squeeze(1)
        return torch.cat([x, (n_symbols + k)[:, None]], dim=1), y  # (n, L + 1)

    return _build("lookup", split_sizes(n_train, n_val, n_test), seed, sample, n_symbols + length, n_symbols,
                  f"x_1..x_{length} [P_k] over {n_symbols} symbols, P_k = {n_symbols} + k -> x_(k+1)")


def first_vs_last_mixed(n: int, seed: int, lengths: tuple[int, ...], n_symbols: int) -> TaskData:
    """first_vs_last with L drawn from `lengths` (rows cycle through them, then shuffle),
    right-padded with PAD = n_symbols + 2. Splits: (x (n, 1 + max L), y, lengths)."""
    pad, width = n_symbols + 2, 1 + max(lengths)
    x = torch.full((n, width), pad)
    y, lens = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.long)
    for i, length in enumerate(lengths):
        rows = torch.arange(i, n, len(lengths))
        part_x, part_y = first_vs_last(len(rows), 0, 0, seed=seed * 100_000 + length, length=length,
                                       n_symbols=n_symbols).splits["train"]
        x[rows, : 1 + length], y[rows], lens[rows] = part_x, part_y, 1 + length
    shuffle = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    span = f"{min(lengths)}-{max(lengths)}" if len(lengths) > 1 else str(lengths[0])
    encoding = (f"[Q] x_1..x_L, L in {span}, Q = {n_symbols} (FIRST) or {n_symbols + 1} (LAST), "
                f"over {n_symbols} symbols, right-padded with PAD={pad} -> x_1 or x_L")
    return TaskData("first_vs_last", {"train": (x[shuffle], y[shuffle], lens[shuffle])}, n_symbols + 3, n_symbols,
                    encoding, render=lambda row: " ".join(str(t) for t in row.tolist() if t != pad))


def chance_accuracy(task: str, n_symbols: int) -> float:
    """Accuracy (%) of a guess: "sortedness" answers yes or no; first-vs-last (whatever a study calls it) names
    one of n_symbols symbols."""
    return 50.0 if task == "sortedness" else 100.0 / n_symbols
