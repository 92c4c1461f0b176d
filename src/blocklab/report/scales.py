"""What a metric can be: its range and its unit, so no interval claims a value it cannot take.

An accuracy lives in [0, 100] (or [0, 1] as a fraction), a loss or an entropy is never
negative, a difference of two accuracies lies in [-100, 100]. A `Scale` says so:

    PERCENT = Scale("%", 0, 100)          FRACTION = Scale("", 0, 1)
    ACCURACY = Scale("", 0, 100)          COSINE = Scale("", -1, 1)
    LOSS = Scale("loss", 0, inf)          NONNEGATIVE = Scale("", 0, inf)
    UNBOUNDED = Scale("", -inf, inf)      PERCENT.difference() -> Scale("points", -100, 100)

A study declares the scales of its metrics in results.json's optional "scales" field,
{pattern: {"unit", "low", "high"}}, where a pattern is a dotted metric name or a glob
("*.test_acc", "final.*_loss"); the first pattern that matches wins.

A metric nobody declared gets a scale inferred from the last part of its dotted name, and
only where no study's metric of that name can leave it (checked over every study's metric
names; a wider range is always safe, a narrower one would be a lie):

    acc, accuracy, *_acc, *_accuracy    [0, 100]  (covers percent and fraction alike)
    *_pct, *_percent                    [0, 100]
    loss, *_loss, entropy, *_entropy    [0, inf)
    seconds, *_seconds, *_ms            [0, inf)
    anything else                       unbounded

and if a seed's value lies outside the inferred range anyway, the metric falls back to
unbounded: an inference can widen nothing wrongly and clip nothing true. A declared range
that a value leaves is an error in the study, and raises.
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..errors import BlocklabError


@dataclass(frozen=True)
class Scale:
    """A metric's unit and the closed range [low, high] its values lie in (±inf: unbounded)."""

    unit: str = ""
    low: float = -math.inf
    high: float = math.inf

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"a scale's low ({self.low}) must not exceed its high ({self.high})")

    def clip(self, x: float) -> float:
        return min(max(x, self.low), self.high)

    def contains(self, values: Iterable[float]) -> bool:
        """Whether every finite value lies in the range (non-finite values are a diverged seed's, not a value)."""
        return all(self.low <= v <= self.high for v in values if math.isfinite(v))

    def difference(self) -> Scale:
        """The scale of a difference of two values on this scale ("%" becomes "points")."""
        unit = "points" if self.unit == "%" else self.unit
        return Scale(unit, self.low - self.high, self.high - self.low)

    def to_dict(self) -> dict:
        """JSON-ready: an infinite end is null."""
        return {"unit": self.unit, "low": _finite_or_none(self.low), "high": _finite_or_none(self.high)}

    @classmethod
    def from_dict(cls, d: Mapping) -> Scale:
        low, high = d.get("low"), d.get("high")
        return cls(str(d.get("unit", "")), -math.inf if low is None else float(low),
                   math.inf if high is None else float(high))


PERCENT = Scale("%", 0.0, 100.0)
FRACTION = Scale("", 0.0, 1.0)
ACCURACY = Scale("", 0.0, 100.0)  # in percent or as a fraction: either lies in [0, 100]
COSINE = Scale("", -1.0, 1.0)
LOSS = Scale("loss", 0.0, math.inf)
NONNEGATIVE = Scale("", 0.0, math.inf)
UNBOUNDED = Scale()

_INFERRED = (  # (last part of the dotted name, scale); see the module docstring
    (re.compile(r"^(acc|accuracy|.+_acc|.+_accuracy|.+_pct|.+_percent)$"), ACCURACY),
    (re.compile(r"^(loss|.+_loss|entropy|.+_entropy|seconds|.+_seconds|.+_ms)$"), NONNEGATIVE),
)


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def infer_scale(metric: str) -> Scale:
    """The scale the module docstring's name rule gives `metric` (a dotted name)."""
    last = metric.rsplit(".", 1)[-1]
    return next((scale for pattern, scale in _INFERRED if pattern.match(last)), UNBOUNDED)


def scale_for(metric: str, values: Iterable[float], declared: Mapping[str, Mapping] | None = None) -> Scale:
    """The declared scale of `metric` if a pattern matches, else the inferred one (unbounded if `values` leave it)."""
    values = [float(v) for v in values]
    for pattern, d in (declared or {}).items():
        if fnmatch.fnmatchcase(metric, pattern):
            scale = Scale.from_dict(d)
            if not scale.contains(values):
                outside = next(v for v in values if math.isfinite(v) and not scale.low <= v <= scale.high)
                raise BlocklabError(f"metric {metric!r} has the value {outside:g}, outside its declared range "
                                    f"[{scale.low:g}, {scale.high:g}] (pattern {pattern!r})")
            return scale
    scale = infer_scale(metric)
    return scale if scale.contains(values) else UNBOUNDED
