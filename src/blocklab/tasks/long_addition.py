"""Multi-digit addition with the answer reversed, for a decoder-only GPT at any number of digits.

Encoding. Tokens: digits 0-9, PLUS (10), EQUALS (11), PAD (12). A problem with d-digit
operands is one line of 3d + 3 tokens, the operands zero-padded to d digits, most significant
first, and the sum's d + 1 digits units first (reversed), so that each answer digit comes after
the carry it needs:

    12 + 345 at d = 3:   0 1 2 + 3 4 5 = 7 5 3 0

A model is given the prompt up to EQUALS and writes d + 1 tokens; it is right only if all of
them are (exact match). Training rows mix d = 1..max_digits and are right-padded with PAD;
`answer_mask` marks the tokens the loss reads (the targets that are answer digits).
Digit positions for Abacus and coupling come from blocklab.tasks.digit_positions.
Shapes: n rows, T tokens.
"""
from __future__ import annotations

import torch

from .base import generator
from .digit_positions import coupled_positions

PLUS, EQUALS, PAD = 10, 11, 12
VOCAB = 13


def line_length(d: int) -> int:
    return 3 * d + 3


def encode(a: list[int], b: list[int], d: int) -> torch.Tensor:
    """Operand lists (n each) at d digits -> lines (n, 3d + 3), answer units first."""
    rows = []
    for x, y in zip(a, b):
        s = str(x + y).zfill(d + 1)[::-1]
        rows.append([*map(int, str(x).zfill(d)), PLUS, *map(int, str(y).zfill(d)), EQUALS, *map(int, s)])
    return torch.tensor(rows, dtype=torch.long)


def sample(n: int, d: int, g: torch.Generator) -> torch.Tensor:
    """n problems with operands drawn digit by digit uniformly from 0..10^d - 1 -> (n, 3d + 3).
    Python ints, so 40 digits do not overflow."""
    digits = torch.randint(0, 10, (n, 2, d), generator=g).tolist()
    a = [int("".join(map(str, r[0]))) for r in digits]
    b = [int("".join(map(str, r[1]))) for r in digits]
    return encode(a, b, d)


def training_rows(n: int, max_digits: int, seed: int) -> torch.Tensor:
    """n lines with d cycling through 1..max_digits (then shuffled), right-padded -> (n, 3 max + 3)."""
    g = generator(seed)
    out = torch.full((n, line_length(max_digits)), PAD)
    for d in range(1, max_digits + 1):
        rows = torch.arange(d - 1, n, max_digits)
        out[rows, : line_length(d)] = sample(len(rows), d, g)
    return out[torch.randperm(n, generator=g)]


def answer_mask(lines: torch.Tensor) -> torch.Tensor:
    """(n, T) -> (n, T - 1) bool: target t + 1 is an answer digit (after EQUALS, not PAD)."""
    after_eq = (lines == EQUALS).long().cumsum(dim=1) > 0
    is_answer = after_eq & (lines != EQUALS) & (lines != PAD)
    return is_answer[:, 1:]


def positions(lines: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-token indices (n, T): every digit's significance (units 1), so the digits that add
    together share an index, for the operands (most significant first) and the answer (units first).

    'abacus'    McLeish et al. (2024) index a digit by its place from its number's first digit, in
                numbers they write units first: that is its significance. '=' and other tokens 0.
    'coupling'  Cho et al. (2024): the operands as abacus; '=' and each answer digit take the index
                of the digit they predict (the next one), so that the token which writes the digit of
                significance k carries k, like the operand digits it reads.
    """
    is_digit = lines < 10
    in_answer = (lines == EQUALS).long().cumsum(dim=1) > 0  # '=' and everything after it
    operands = coupled_positions(is_digit & ~in_answer, units_first=False)
    if kind == "abacus":
        return operands + coupled_positions(is_digit & in_answer, units_first=True)
    writers = in_answer & (lines != PAD)  # '=' then the answer digits: one run that counts from '='
    return operands + coupled_positions(writers, units_first=True)


def exact_match(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """(n, d + 1) answers -> (n,) bool: every digit right."""
    return (pred == truth).all(dim=1)


def value(answer: list[int]) -> int:
    """Reversed answer digits -> the number they write."""
    return int("".join(map(str, answer[::-1])))
