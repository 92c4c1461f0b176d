"""3-digit addition with carries (seed 002, problem 1), for an encoder-decoder or a GPT.

Encoding. One vocabulary of 12 tokens: digits 0-9, PLUS (id 10) and EQUALS (id 11).
A problem a + b, with a and b in 0..999, is written with three digits each, hundreds
first: `1 2 3 + 4 5 6` (7 tokens; `7 + 25` is `0 0 7 + 0 2 5`). The sum (0..1998) is four
digits with leading zeros, in natural order (thousands first: `0 5 7 9`) or reversed
(units first: `9 7 5 0`), a task parameter. Reversed order lets every output digit
follow the one whose carry it needs; natural order makes the first output digit depend
on the whole carry chain.

Each split is (src (n, 7), tgt (n, 4), dec_in (n, 4), carries (n,), seq (n, 12)):
  src      the problem, the encoder's input
  tgt      the four answer digits in the chosen order
  dec_in   EQUALS then tgt[:, :3]: what a teacher-forced decoder reads (EQUALS is its BOS)
  carries  how many of the three columns (units, tens, hundreds) produce a carry, 0..3
  seq      src, EQUALS, tgt: the whole line a GPT reads; its answer is seq[:, 8:12]

Held-out pairs. All 10^6 ordered pairs (a, b) are shuffled by a generator seeded with
`test_seed`; the first n_test are the test split. The remaining pairs are shuffled by
`seed`; the first n_val are val and the next n_train train. So no pair is in two splits,
the test split depends only on (test_seed, n_test), and runs with different seeds share
it while drawing different training sets.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import choice_error
from .base import generator
from .seq2seq import SequenceTaskData

DIGITS, PLUS, EQUALS = 10, 10, 11
VOCAB = 12
ORDERS = ("natural", "reversed")
N_PAIRS = 1000 * 1000
SRC_LEN, ANSWER_LEN = 7, 4


def digits(n: torch.Tensor, width: int) -> torch.Tensor:
    """(n,) non-negative ints -> (n, width) decimal digits, most significant first."""
    powers = 10 ** torch.arange(width - 1, -1, -1)  # (width,)
    return (n[:, None] // powers) % 10


def count_carries(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(n,), (n,) -> (n,) number of columns of a + b (3 digits) that carry into the next."""
    carry = torch.zeros_like(a)
    count = torch.zeros_like(a)
    for col in range(3):  # units, tens, hundreds
        s = (a // 10**col) % 10 + (b // 10**col) % 10 + carry
        carry = (s >= 10).long()
        count += carry
    return count


def encode(a: torch.Tensor, b: torch.Tensor, order: str) -> tuple[torch.Tensor, ...]:
    """Operands (n,), (n,) -> (src, tgt, dec_in, carries, seq); see the module docstring."""
    n = a.shape[0]
    src = torch.cat([digits(a, 3), torch.full((n, 1), PLUS), digits(b, 3)], dim=1)  # (n, 7)
    tgt = digits(a + b, ANSWER_LEN)  # (n, 4) thousands first
    if order == "reversed":
        tgt = tgt.flip(1)
    eq = torch.full((n, 1), EQUALS)
    dec_in = torch.cat([eq, tgt[:, :-1]], dim=1)  # (n, 4)
    seq = torch.cat([src, eq, tgt], dim=1)  # (n, 12)
    return src, tgt, dec_in, count_carries(a, b), seq


def operands(src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 7) problems -> a (n,), b (n,)."""
    powers = torch.tensor([100, 10, 1])
    return (src[:, :3] * powers).sum(1), (src[:, 4:] * powers).sum(1)


def answer_value(tgt: torch.Tensor, order: str) -> torch.Tensor:
    """(n, 4) answer digits in `order` -> (n,) the number they write."""
    natural = tgt.flip(1) if order == "reversed" else tgt
    return (natural * 10 ** torch.arange(ANSWER_LEN - 1, -1, -1)).sum(1)


def say(answer: torch.Tensor, order: str) -> str:
    """(4,) answer tokens in `order` -> the number they write ('0578' -> '578'); a non-digit
    token shows as '?' among the digits in natural order."""
    natural = answer.flip(0) if order == "reversed" else answer
    if bool((natural >= DIGITS).any()):
        return "".join(str(int(t)) if t < DIGITS else "?" for t in natural)
    return str(int(answer_value(answer[None], order)))


def render_problem(src: torch.Tensor) -> str:
    a, b = operands(src[None])
    return f"{int(a)} + {int(b)}"


@dataclass
class AdditionTaskData(SequenceTaskData):
    order: str = "reversed"

    def mistakes(self, split: str, pred: torch.Tensor, limit: int = 5) -> list[str]:
        """`a + b: model says X, truth Y` for the first wrong answers, X and Y as numbers read
        in natural order (a non-digit token shows as '?')."""
        src, tgt = self.splits[split][:2]
        wrong = (pred != tgt).any(dim=1).nonzero().flatten()[:limit]
        return [f"{render_problem(src[i])}: model says {self.say(pred[i])}, truth {self.say(tgt[i])}"
                for i in wrong.tolist()]

    def say(self, answer: torch.Tensor) -> str:
        return say(answer, self.order)


def addition(n_train: int, n_val: int, n_test: int, seed: int, order: str = "reversed",
             test_seed: int = 0) -> AdditionTaskData:
    """Splits of (src, tgt, dec_in, carries, seq); see the module docstring."""
    if order not in ORDERS:
        raise choice_error("addition", "order", order, ORDERS)
    if n_train + n_val + n_test > N_PAIRS:
        raise ValueError(f"addition has {N_PAIRS} distinct pairs; n_train + n_val + n_test = "
                         f"{n_train + n_val + n_test} is more")
    pairs = torch.randperm(N_PAIRS, generator=generator(test_seed))
    test, rest = pairs[:n_test], pairs[n_test:]
    rest = rest[torch.randperm(rest.numel(), generator=generator(seed))]
    chosen = {"train": rest[n_val : n_val + n_train], "val": rest[:n_val], "test": test}
    splits = {s: encode(idx // 1000, idx % 1000, order) for s, idx in chosen.items() if idx.numel() > 0}
    encoding = (f"a + b, a and b in 0..999 as 3 digits each (7 tokens, PLUS={PLUS}) -> a + b as 4 digits, "
                f"{order} order; decoder input EQUALS={EQUALS} then the answer shifted right; test pairs "
                f"fixed by test_seed={test_seed}, disjoint from train and val")
    return AdditionTaskData("addition", splits, VOCAB, DIGITS, encoding, render=render_problem, order=order)
