"""Abacus and coupled position indices for digit tasks, against sequences worked out by hand.

WHAT: every run of digits is one number; Abacus counts places from each number's first token,
coupling counts significance (units 1) so that digits which add together share an index;
other tokens get 0. WHY: an index off by one at a number's boundary, or counted from the
wrong end, teaches the model to add the wrong columns.
"""
from __future__ import annotations

import torch

from blocklab.tasks.digit_positions import abacus_positions, coupled_positions

D = -1  # a non-digit token in the sketches below (operator, '=', padding)


def digits_of(tokens: list[list[int]]) -> torch.Tensor:
    return torch.tensor(tokens) >= 0


def test_abacus_counts_places_from_each_numbers_first_digit():
    # 34 + 567 = 0106 (four answer digits), and a row with a one-digit operand and padding
    tokens = [[3, 4, D, 5, 6, 7, D, 0, 1, 0, 6], [9, D, 9, 9, D, 8, 0, 1, D, D, D]]
    assert abacus_positions(digits_of(tokens)).tolist() == [[1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4],
                                                           [1, 0, 1, 2, 0, 1, 2, 3, 0, 0, 0]]


def test_coupling_gives_digits_of_equal_significance_the_same_index():
    # most significant digit first: 34 + 567 = 601; the units 4, 7, 1 share index 1
    tokens = [[3, 4, D, 5, 6, 7, D, 6, 0, 1]]
    assert coupled_positions(digits_of(tokens), units_first=False).tolist() == [[2, 1, 0, 3, 2, 1, 0, 3, 2, 1]]
    # units first (reversed): 43 + 765 = 106; the same digits, the same indices
    tokens = [[4, 3, D, 7, 6, 5, D, 1, 0, 6]]
    assert coupled_positions(digits_of(tokens), units_first=True).tolist() == [[1, 2, 0, 1, 2, 3, 0, 1, 2, 3]]


def test_coupled_indices_pair_the_columns_of_random_additions():
    """For random a + b = c written most significant first, the tokens holding 10^k in a, b and c all
    carry index k + 1, and each number's indices run down to 1."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        a, b = (int(torch.randint(0, 10 ** int(torch.randint(1, 7, (1,), generator=gen)), (1,), generator=gen))
                for _ in range(2))  # 1 to 6 digits each
        text = f"{a}+{b}={a + b}"
        is_digit = torch.tensor([[ch.isdigit() for ch in text]])
        index = coupled_positions(is_digit, units_first=False)[0].tolist()
        columns: dict[int, list[str]] = {}
        for ch, k in zip(text, index):
            if ch.isdigit():
                columns.setdefault(k, []).append(ch)
        for k, column in columns.items():
            expected = [str(n // 10 ** (k - 1) % 10) for n in (a, b, a + b) if n >= 10 ** (k - 1) or k == 1]
            assert column == expected, f"{text}: column {k}"
