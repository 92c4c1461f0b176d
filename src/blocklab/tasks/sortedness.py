"""Sortedness: is this sequence of integers in non-decreasing order? (seed 002, problem 2)

Encoding. Each split is (x, label, lengths, kinds). A row of x is x_1..x_L, tokens
0..n_values-1, then PAD (id n_values) up to the longest length of the split; `lengths`
says where each row ends. The label is 1 if x_1 <= x_2 <= ... <= x_L, else 0. No token
tells the length: only the sequence itself (and, for batching, the padding after it) does.

Every row starts as L values drawn uniformly with replacement (redrawn, in both classes,
if all are equal) and sorted. Positives keep
that order. Negatives are *permutations* of it, so both classes have exactly the same
distribution of token multisets: counts, sums, maxima and every other statistic of the
bag of tokens say nothing about the label, and a model must compare tokens in place.
The negatives are near-sorted (`kinds`, an extra tensor):

    1 adjacent swap   one pair (x_k, x_k+1) with x_k < x_k+1 swapped: the hardest case,
                      one step from sorted; half of the negatives
    2 far swap        two positions holding different values swapped; a quarter
    3 moved element   one element taken out and put back elsewhere; a quarter

Kind 0 is a positive. Rows cycle through `lengths`, and half of each length's rows are
positive (exactly, when a split has an even number of rows per length; otherwise one
more positive), so the length carries no information about the label. Rows are shuffled.
"""
from __future__ import annotations

import torch

from .base import SPLITS, TaskData, generator, split_sizes

SORTED, ADJACENT_SWAP, FAR_SWAP, MOVED = range(4)


def is_sorted(x: torch.Tensor) -> torch.Tensor:
    """(n, L) -> (n,) bool: non-decreasing rows."""
    return (x[:, 1:] >= x[:, :-1]).all(dim=1)


def _sorted_rows(n: int, length: int, n_values: int, g: torch.Generator) -> torch.Tensor:
    """(n, L) sorted uniform samples with at least two distinct values, so every negative kind exists."""
    x = torch.randint(0, n_values, (n, length), generator=g).sort(dim=1).values
    flat = x[:, 0] == x[:, -1]
    while flat.any():
        x[flat] = torch.randint(0, n_values, (int(flat.sum()), length), generator=g).sort(dim=1).values
        flat = x[:, 0] == x[:, -1]
    return x


def _adjacent_swap(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Swap one uniformly chosen adjacent pair with x_k < x_k+1 in each sorted row."""
    rows = torch.arange(len(x))
    k = torch.multinomial((x[:, 1:] > x[:, :-1]).float(), 1, generator=g).squeeze(1)  # (n,)
    out = x.clone()
    out[rows, k], out[rows, k + 1] = x[rows, k + 1], x[rows, k]
    return out


def _far_swap(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Swap position i (uniform) with a uniform position j holding another value."""
    rows = torch.arange(len(x))
    i = torch.randint(0, x.shape[1], (len(x),), generator=g)
    j = torch.multinomial((x != x[rows, i][:, None]).float(), 1, generator=g).squeeze(1)
    out = x.clone()
    out[rows, i], out[rows, j] = x[rows, j], x[rows, i]
    return out


def _move(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Take element i out and reinsert it before or after position j; retry rows left sorted
    (moving a value within a run of equal values changes nothing)."""
    out = x.clone()
    todo = torch.ones(len(x), dtype=torch.bool)
    while todo.any():
        n, length = int(todo.sum()), x.shape[1]
        i = torch.randint(0, length, (n,), generator=g)
        j = torch.randint(0, length, (n,), generator=g)
        key = torch.arange(length, dtype=torch.float).repeat(n, 1)  # (n, L) sort keys = current slots
        key[torch.arange(n), i] = j + torch.where(j > i, 0.5, -0.5)  # element i now sorts next to slot j
        moved = x[todo].gather(1, key.argsort(dim=1))
        out[todo] = moved
        todo[todo.clone()] = is_sorted(moved)
    return out


def sample_sortedness(n: int, length: int, n_values: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n rows of one length, the first half positive -> x (n, L), kinds (n,)."""
    x = _sorted_rows(n, length, n_values, g)
    kinds = torch.full((n,), SORTED)
    neg = torch.arange(n) >= n - n // 2
    # Negatives take kinds 1, 1, 2, 3, 1, 1, 2, 3, ...: half adjacent swaps, a quarter of each other kind.
    kinds[neg] = torch.tensor([ADJACENT_SWAP, ADJACENT_SWAP, FAR_SWAP, MOVED]).repeat(n)[: int(neg.sum())]
    for kind, perturb in ((ADJACENT_SWAP, _adjacent_swap), (FAR_SWAP, _far_swap), (MOVED, _move)):
        rows = kinds == kind
        if rows.any():
            x[rows] = perturb(x[rows], g)
    return x, kinds


def sortedness(n_train: int, n_val: int, n_test: int, seed: int, lengths: tuple[int, ...] = tuple(range(8, 17)),
               n_values: int = 64) -> TaskData:
    """Splits of (x (n, max L), label (n,), lengths (n,), kinds (n,)); see the module docstring."""
    if min(lengths) < 2:
        raise ValueError(f"sortedness needs lengths >= 2 (one pair to compare); got {lengths}")
    pad, width = n_values, max(lengths)

    def sample(n: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
        x = torch.full((n, width), pad)
        kinds, lens = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.long)
        for i, length in enumerate(lengths):
            rows = torch.arange(i, n, len(lengths))  # every len(lengths)-th row has this length
            x[rows, :length], kinds[rows] = sample_sortedness(len(rows), length, n_values, g)
            lens[rows] = length
        shuffle = torch.randperm(n, generator=g)
        x, kinds, lens = x[shuffle], kinds[shuffle], lens[shuffle]
        return x, (kinds == SORTED).long(), lens, kinds

    g = generator(seed)
    sizes = split_sizes(n_train, n_val, n_test)
    splits = {s: sample(sizes[s], g) for s in SPLITS if sizes[s] > 0}
    span = f"{min(lengths)}-{max(lengths)}" if len(lengths) > 1 else str(lengths[0])
    encoding = (f"x_1..x_L, L in {span}, tokens 0..{n_values - 1}, right-padded with PAD={pad} "
                "-> 1 if non-decreasing else 0; negatives are near-sorted permutations (balanced at every length)")
    return TaskData("sortedness", splits, n_values + 1, 2, encoding,
                    render=lambda row: " ".join(str(t) for t in row.tolist() if t != pad))
