"""Where carries through a 9 fail, mechanistically: which heads pass the carry on.

The nine set: problems whose units carry and whose tens digits sum to exactly 9, so the tens
relay the units' carry to the hundreds (45 + 555 = 600); the hundreds digits do not sum to 9.
Each is matched with the same problem with one tens digit raised by one, so the tens sum to
10 and make the carry themselves (55 + 555 = 610): the same incoming carry, the same hundreds
and thousands digits; only how the tens column comes to carry differs. A head whose ablation
costs the nine set more than its match carries the "sum is 9, pass the carry on" information.

Attention shift: the mean total-variation distance between a head's attention on a nine
problem and on its match (0: it reads both alike; 1: disjoint), at the query that writes the
hundreds digit for decoder heads, and at the two tens digits (src positions 1, 5) for encoder
heads. Scores are greedy exact match by one teacher-forced pass (ablation.solved).
"""
from __future__ import annotations

import torch

from blocklab.tasks.addition import N_PAIRS, columns, encode

from .ablation import ablated, column_of_answer, heads, patterns, solved
from .model import percent

TENS_SRC = [1, 5]  # src positions of a's and b's tens digits


def nine_pairs(n: int, seed: int, order: str) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """n nine problems drawn by `seed` and their matches (module docstring), encoded in `order`."""
    idx = torch.arange(N_PAIRS)
    sums, carries = columns(idx // 1000, idx % 1000)
    nine = idx[(carries[:, 0] == 1) & (sums[:, 1] == 9) & (sums[:, 2] != 9)]
    chosen = nine[torch.randperm(nine.numel(), generator=torch.Generator().manual_seed(seed))[:n]]
    a, b = chosen // 1000, chosen % 1000
    raise_a = ((a // 10) % 10 < 9).long()  # raise a's tens digit; when it is 9, b's is 0: raise that
    return encode(a, b, order), encode(a + 10 * raise_a, b + 10 * (1 - raise_a), order)


def relay_heads(model, order: str, n: int = 500, seed: int = 0) -> dict:
    """Exact match (%) on the nine set and on its match; per head, the points each loses when the
    head alone is zero-ablated, and the head's attention shift."""
    nine, match = nine_pairs(n, seed, order)
    sets = {"nine": nine, "match": match}
    base = {k: percent(solved(model, s)) for k, s in sets.items()}
    drop = {}
    for name, head in heads(model).items():
        with ablated(model, [head]):
            drop[name] = {k: base[k] - percent(solved(model, s)) for k, s in sets.items()}
    return {"n": n, "baseline": base, "drop": drop, "shift": attention_shift(model, nine, match, order)}


def attention_shift(model, nine: tuple[torch.Tensor, ...], match: tuple[torch.Tensor, ...], order: str) -> dict:
    """Head name -> mean total-variation distance between its attention rows on the nine problems
    and on their matches (module docstring)."""
    hundreds = column_of_answer(order).index(2)
    p9, pm = patterns(model, nine[0], nine[2]), patterns(model, match[0], match[2])
    out = {}
    for label, pattern in p9.items():
        rows = TENS_SRC if label.startswith("encoder") else [hundreds]
        tv = 0.5 * (pattern[:, :, rows] - pm[label][:, :, rows]).abs().sum(-1)  # (B, H, rows)
        out |= {f"{label}_head_{h}": v for h, v in enumerate(tv.mean(dim=(0, 2)).tolist())}
    return out
