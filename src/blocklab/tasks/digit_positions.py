"""Per-token position indices for digit tasks: Abacus places and coupled significances.

GPT(tokens, positions=...) with pos_encoding 'abacus' or 'coupling' reads one index per
token, computed here from which tokens are digits; a maximal run of digit tokens is one
number, and every other token (operators, '=', padding) gets index 0. For `3 4 + 5 6 7 = ...`:

    abacus_positions    1 2 0 1 2 3 0 ...   place within the number, from its first digit
                                            (McLeish et al., 2024, who write numbers units first)
    coupled_positions   2 1 0 3 2 1 0 ...   significance: units 1, tens 2, ... (Cho et al., 2024),
                                            so digits that add together share an index

`units_first` says how the task writes numbers, and so which end of a run holds the units.
Shapes: B batch, T tokens.
"""
from __future__ import annotations

import torch


def abacus_positions(is_digit: torch.Tensor) -> torch.Tensor:
    """Each digit's place in its number (1, 2, ... along each run of digits), 0 for other tokens.
    (B, T) bool -> (B, T) long"""
    count = is_digit.long().cumsum(dim=1)  # digits so far
    before_run = torch.where(is_digit, 0, count).cummax(dim=1).values  # the count at the last non-digit
    return count - before_run


def coupled_positions(is_digit: torch.Tensor, units_first: bool) -> torch.Tensor:
    """Each digit's significance (units 1, tens 2, ...): digits of equal significance in the
    operands and the answer share an index.  (B, T) bool -> (B, T) long"""
    if units_first:
        return abacus_positions(is_digit)
    return abacus_positions(is_digit.flip(1)).flip(1)  # count from each run's last token
