"""How sure a verdict is: a p-value per measured part, Holm's correction over the ledger, and
the smallest effect a number of seeds could have detected.

p-value of a part. A claim states an acceptance region [low, high] for the mean over seeds.
A verdict is definite when the mean's interval lies inside the region (confirmed) or wholly
outside it (refuted). With Student's t interval at level 1 - a, that happens once a is at
least

    p_confirm = 2 · (1 - T(d_in)),    d_in  = min(mean - low, high - mean) / se
    p_refute  = 2 · (1 - T(d_out)),   d_out = max(low - mean, mean - high) / se

with se = s / sqrt(n), T Student's t CDF with n - 1 degrees of freedom (p = 1 when d <= 0).
The part's p-value is the one for the verdict it reached (the smaller of the two when it
is inconclusive): the chance of a verdict this definite if the truth sat on the region's
edge. Edges at or beyond the metric's range are dropped (an accuracy is never above 100,
so "at least 99" has no upper edge). When every seed gives the same value (a count of
parameters), se = 0 and the p-value is 0 for the verdict the value gives.

The interval is the bootstrap's by default (stats.py), the p-value t's; a verdict is
definite only when both say so (verdicts.py), so a confirmed or refuted part has p <= 0.05.

Comparing two cells (`compare`): their values paired by seed, the bootstrap interval of the
mean difference and the t-test of "no difference" (the p_refute of the region [0, 0]); the
cells are called different when the interval excludes 0 and p <= 0.05. The A/A test
(tests/report/test_aa.py) checks on stored results that this calls two halves of one
configuration's seeds different at no more than 5%.

Holm-Bonferroni over m parts: sort the p-values p(1) <= ... <= p(m); the adjusted value of
p(k) is max over j <= k of min(1, (m - j + 1) · p(j)). A part's verdict holds at family-wise
5% when its adjusted p-value is at most 0.05: the chance that any of the m verdicts that
hold is wrong is then at most 5%, whatever the dependence between them.

Minimum detectable effect. With n seeds of spread s, a distance d between the true mean and
the region's edge gives a definite verdict 80% of the time when

    d >= (t(0.975, n - 1) + t(0.80, n - 1)) · s / sqrt(n),

the usual power formula with the sample's s standing in for the true spread. For an
inconclusive part, this is the smallest effect the seeds could have detected; the number
of seeds that would detect the distance actually observed is the smallest n for which the
right-hand side (with the same s) falls below it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .scales import UNBOUNDED, Scale
from .stats import Interval, column_intervals, finite_values, mean_ci, seed_differences, t_cdf, t_quantile

ALPHA = 0.05
POWER = 0.80
MAX_SEEDS = 1000  # seeds_to_detect gives up beyond this: the effect is too small to chase with seeds


def region_p_values(values: Sequence[float | None], low: float | None, high: float | None,
                    scale: Scale = UNBOUNDED) -> tuple[float, float] | None:
    """(p_confirm, p_refute) for the region [low, high] (None: open on that side); None with < 2 values."""
    x = finite_values(values)
    if x.size < 2:
        return None
    low = -math.inf if low is None or low <= scale.low else low
    high = math.inf if high is None or high >= scale.high else high
    return _edge_p_values(float(x.mean()), float(x.std(ddof=1)) / math.sqrt(x.size), int(x.size), low, high)


def _edge_p_values(mean: float, se: float, n: int, low: float, high: float) -> tuple[float, float]:
    d_in, d_out = min(mean - low, high - mean), max(low - mean, mean - high)
    if se == 0:
        inside = d_in >= 0
        return (0.0, 1.0) if inside else (1.0, 0.0)

    def p(d: float) -> float:
        return 1.0 if d <= 0 else min(1.0, 2 * (1 - t_cdf(d / se, n - 1)))

    return p(d_in), p(d_out)


@dataclass(frozen=True)
class Comparison:
    """Two cells compared seed by seed: the interval of the mean difference a - b and t's p-value."""

    difference: Interval
    p_value: float | None

    @property
    def different(self) -> bool:
        if self.difference.low is None or self.p_value is None:
            return False
        return bool(_called_different(self.difference.low, self.difference.high, self.p_value))


def _called_different(low, high, p):
    """The interval of the difference excludes 0 and the t-test agrees (works on arrays too)."""
    return ((low > 0) | (high < 0)) & (p <= ALPHA)


def compare(a: Sequence[float | None], b: Sequence[float | None], scale: Scale = UNBOUNDED,
            method: str = "bootstrap") -> Comparison:
    """Compare cells a and b (one value per seed, same seed order); `scale` is the values' own."""
    diffs = seed_differences(a, b)
    p = region_p_values(diffs, 0.0, 0.0)
    return Comparison(mean_ci(diffs, scale.difference(), method), None if p is None else p[1])


def different(a: np.ndarray, b: np.ndarray, scale: Scale = UNBOUNDED, method: str = "bootstrap") -> np.ndarray:
    """compare(a[:, j], b[:, j]).different for every column j of a and b, shaped (seeds, comparisons), all finite."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean, low, high = column_intervals(d, scale.difference(), method)
    se = d.std(axis=0, ddof=1) / math.sqrt(d.shape[0])
    p = np.array([_edge_p_values(m, e, d.shape[0], 0.0, 0.0)[1] for m, e in zip(mean.tolist(), se.tolist())])
    return _called_different(low, high, p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (module docstring)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _detectable(s: float, n: int, alpha: float, power: float) -> float:
    return (t_quantile(1 - alpha / 2, n - 1) + t_quantile(power, n - 1)) * s / math.sqrt(n)


def detectable_effect(values: Sequence[float | None], alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest distance from the region's edge these seeds detect with `power` (module docstring)."""
    x = finite_values(values)
    if x.size < 2:
        return None
    return _detectable(float(x.std(ddof=1)), int(x.size), alpha, power)


def seeds_to_detect(values: Sequence[float | None], distance: float, alpha: float = ALPHA,
                    power: float = POWER) -> int | None:
    """The fewest seeds that detect `distance` with the spread of `values`;
    None if it needs > MAX_SEEDS or no spread."""
    x = finite_values(values)
    if x.size < 2 or distance <= 0:
        return None
    s = float(x.std(ddof=1))
    if s == 0:
        return None
    if _detectable(s, MAX_SEEDS, alpha, power) > distance:
        return None
    low, high = 1, MAX_SEEDS  # the detectable effect falls as n grows: bisect for the first n that reaches distance
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _detectable(s, mid, alpha, power) > distance else (low, mid)
    return high
