"""Declarative ranges: `Annotated` markers behind aliases, so an annotation reads as its rule.

    lr: PositiveFloat = 1e-3
    dropout: ProperFraction = 0.0
    depths: NonEmpty[tuple[PositiveInt, ...]] = (10, 20)
    pos_base: Annotated[float, Range(gt=1)] = 10000.0
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """Bounds on a number: Range(ge=0, lt=1) is [0, 1), Range(gt=0) is > 0."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def holds(self, x: float) -> bool:
        return ((self.gt is None or x > self.gt) and (self.ge is None or x >= self.ge)
                and (self.lt is None or x < self.lt) and (self.le is None or x <= self.le))

    def text(self) -> str:
        low = (self.ge, "[") if self.ge is not None else (self.gt, "(")
        high = (self.le, "]") if self.le is not None else (self.lt, ")")
        if low[0] is not None and high[0] is not None:
            return f"in {low[1]}{_number(low[0])}, {_number(high[0])}{high[1]}"
        if low[0] is not None:
            return f"{'>=' if self.ge is not None else '>'} {_number(low[0])}"
        return f"{'<=' if self.le is not None else '<'} {_number(high[0])}"


@dataclass(frozen=True)
class _NonEmpty:
    """A list or tuple with at least one item."""


PositiveInt = Annotated[int, Range(gt=0)]
NonNegativeInt = Annotated[int, Range(ge=0)]
PositiveFloat = Annotated[float, Range(gt=0)]
NonNegativeFloat = Annotated[float, Range(ge=0)]
Probability = Annotated[float, Range(ge=0, le=1)]
ProperFraction = Annotated[float, Range(ge=0, lt=1)]  # dropout, momentum, Adam's betas
Seed = Annotated[int, Range(ge=0, lt=2**63)]  # what numpy and torch generators accept
NonEmpty = Annotated[T, _NonEmpty()]  # NonEmpty[tuple[int, ...]]


def _number(x: float) -> str:
    """A bound as written: 2**k for a large power of two, an integer in full (not 1.67772e+07), else %g."""
    if x >= 2**20 and int(x) == x and int(x) & (int(x) - 1) == 0:
        return f"2**{int(x).bit_length() - 1}"
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**53 else f"{x:g}"
