"""The mean over seeds and its 95% interval, which never leaves the metric's range.

Default method, "bootstrap": resample the n seeds' values with replacement 10,000 times
(numpy's default_rng seeded with 0, so the same values always give the same interval),
take each resample's mean, and read the interval off the sorted means as percentiles.
A percentile interval lies between the smallest and the largest value, so it cannot leave
any range that holds the values: an accuracy stays in [0, 100], an entropy above 0.

A plain 2.5-97.5 percentile interval is too narrow with a handful of seeds (it ignores
that the spread itself is estimated from n values; at n = 5 it covers the mean about 85%
of the time, not 95%). So the percentiles are expanded (Hesterberg 2015, "What teachers
should know about the bootstrap", section 6.2) to those a t-interval would reach:

    tail = Phi(-sqrt(n / (n - 1)) * t(0.975, n - 1)),  interval = [q(tail), q(1 - tail)]

with Phi the normal CDF: 0.0009 at n = 5 (the 9th of 10,000 sorted means), 0.0145 at
n = 10, tending to 0.025 as n grows. With 2 to 4 seeds the tail is below 1/10,000 and the
interval is close to the range of the values.

Method "t": Student's t, mean ± t(0.975, n - 1) · s / sqrt(n) (s with ddof = 1), cut to
the metric's range. t's CDF is computed exactly for whole degrees of freedom (Abramowitz
and Stegun 26.7.3-4) and inverted by Newton's method, so blocklab needs no scipy.

Non-finite values (a diverged seed's NaN loss) are left out and n counts the rest. With
one value there is no interval; with identical values the interval is that value.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Iterable, Sequence

import numpy as np

from .scales import UNBOUNDED, Scale

METHODS = ("bootstrap", "t")
LEVEL = 0.95
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
_CHUNK = 256  # curve points bootstrapped at once: a block of at most (_CHUNK, RESAMPLES) means, 20 MB


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with `df` (a whole number >= 1) degrees of freedom."""
    if df < 1 or int(df) != df:
        raise ValueError(f"degrees of freedom must be a whole number >= 1, got {df}")
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    theta = math.atan(abs(x) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    # A = P(|T| <= |x|) as a finite series in cos^2(theta): odd df from 2/3, 4/5, ...; even df from 1/2, 3/4, ...
    term, series = 1.0, 1.0
    for k in range(1 if df % 2 else 0, df - 2, 2):
        term *= c2 * (k + 1) / (k + 2)
        series += term
    if df % 2:
        a = 2 / math.pi * (theta + (math.sin(theta) * math.cos(theta) * series if df > 1 else 0.0))
    else:
        a = math.sin(theta) * series
    return 0.5 + math.copysign(a / 2, x)


def t_pdf(x: float, df: int) -> float:
    """Student's t density."""
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))


def t_quantile(p: float, df: int) -> float:
    """The x with P(T <= x) = p, by Newton's method on t_cdf (to 1e-12 relative).

    For p > 0.5 the start, the normal quantile, lies below the root (t's tails are heavier)
    and the CDF is concave there, so every step stays below the root and none overshoots.
    """
    if not 0 < p < 1:
        raise ValueError(f"a quantile needs 0 < p < 1, got {p}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    x = NormalDist().inv_cdf(p)
    for _ in range(200):
        step = (p - t_cdf(x, df)) / t_pdf(x, df)
        x += step
        if abs(step) <= 1e-12 * max(1.0, x):
            break
    return x


@functools.cache
def expanded_tail(n: int, level: float = LEVEL) -> float:
    """The percentile each end of the bootstrap interval is read at, for n values (module docstring)."""
    t = t_quantile((1 + level) / 2, n - 1)
    return NormalDist().cdf(-math.sqrt(n / (n - 1)) * t)


@functools.cache
def resamples(n: int, count: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap's `count` resamples of n values as (weights, draws): a resample's mean is weights[i] @ x.

    The draws are numpy's default_rng(seed).integers(0, n, (count, n)), the same that
    scipy.stats.bootstrap makes with that generator, so the two agree resample for resample.
    A resample is only a multiset, and 10,000 of them hold few distinct ones when n is small
    (at most 462 for n = 6), so each distinct one is kept once with `draws`, how often it came.
    """
    index = np.random.default_rng(seed).integers(0, n, size=(count, n))
    counts = np.zeros((count, n))
    np.add.at(counts, (np.arange(count)[:, None], index), 1.0)
    distinct, draws = np.unique(counts, axis=0, return_counts=True)
    weights = distinct / n
    weights.flags.writeable = draws.flags.writeable = False
    return weights, draws


@functools.cache
def _every_resample(n: int) -> np.ndarray:
    """resamples(n)'s weights, each row repeated as often as it was drawn."""
    weights, draws = resamples(n)
    return np.repeat(weights, draws, axis=0)


@dataclass(frozen=True)
class Interval:
    """Mean of `n` finite values with its 95% interval; `low`/`high` are None when n < 2."""

    mean: float | None
    low: float | None
    high: float | None
    n: int
    method: str = "bootstrap"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}

    def excludes(self, x: float) -> bool:
        """Whether the interval lies wholly on one side of x: a comparison calls two cells different."""
        return self.low is not None and (self.low > x or self.high < x)

    def text(self, fmt: str = ".4g") -> str:
        """'mean [low, high]' for a table cell; the mean alone for one value, '—' for none."""
        if self.mean is None:
            return "—"
        return f"{self.mean:{fmt}}" + ("" if self.low is None else f" [{self.low:{fmt}}, {self.high:{fmt}}]")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"interval method {method!r} is not one of {', '.join(METHODS)}")


def column_intervals(x: np.ndarray, scale: Scale = UNBOUNDED, method: str = "bootstrap",
                     level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, low, high of each column of x, shaped (n >= 2 finite values, m columns): many intervals at once."""
    _check_method(method)
    n = x.shape[0]
    mean = x.mean(axis=0)
    if method == "t":
        half = t_quantile((1 + level) / 2, n - 1) * x.std(axis=0, ddof=1) / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        weights, draws = resamples(n)
        few = weights.shape[0] * 4 < draws.sum()  # many repeated resamples (n <= 8): sort the distinct ones
        if not few:
            weights = _every_resample(n)
        low, high = np.empty_like(mean), np.empty_like(mean)
        for start in range(0, x.shape[1], _CHUNK):
            block = slice(start, start + _CHUNK)
            # (columns, resamples) of means; einsum, not a BLAS matmul, whose threads stall on a busy machine
            means = np.einsum("nm,rn->mr", x[:, block], weights)
            tail = expanded_tail(n, level)
            low[block], high[block] = _percentiles(means, draws, tail) if few else _percentiles_of_all(means, tail)
        # resample means lie within [min, max]; this removes the last bits of rounding
        # (identical values give that value)
        lo, hi = x.min(axis=0), x.max(axis=0)
        mean = np.where(lo == hi, lo, mean)
        low, high = np.clip(low, lo, mean), np.clip(high, mean, hi)
    return mean, np.clip(low, scale.low, scale.high), np.clip(high, scale.low, scale.high)


def _percentiles(means: np.ndarray, draws: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's `tail` and `1 - tail` percentiles of its resample means, each mean counted `draws` times.

    `means` is (rows, distinct resamples). The percentiles are numpy's default ("linear":
    between the two neighbouring order statistics of all the resamples' means).
    """
    order = np.argsort(means, axis=1)
    ordered = np.take_along_axis(means, order, axis=1)
    ends = np.cumsum(draws[order], axis=1)  # one past the last place each distinct mean fills in the sorted list
    count, rows = int(draws.sum()), np.arange(means.shape[0])

    def order_statistic(k: int) -> np.ndarray:
        return ordered[rows, (ends <= k).sum(axis=1)]

    out = []
    for h in (tail * (count - 1), (1 - tail) * (count - 1)):
        k = min(int(h), count - 2)
        out.append(order_statistic(k) + (h - k) * (order_statistic(k + 1) - order_statistic(k)))
    return out[0], out[1]


def _percentiles_of_all(means: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """_percentiles when every resample is its own row of `means`: four order statistics by partition."""
    count = means.shape[1]
    positions = (tail * (count - 1), (1 - tail) * (count - 1))
    below = [min(int(h), count - 2) for h in positions]
    part = np.partition(means, sorted({k + d for k in below for d in (0, 1)}), axis=1)
    low, high = (part[:, k] + (h - k) * (part[:, k + 1] - part[:, k]) for h, k in zip(positions, below))
    return low, high


def finite_values(values: Iterable[float | None]) -> np.ndarray:
    """The values a seed gave: None, NaN and inf (a diverged seed) left out."""
    x = np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    return x[np.isfinite(x)]


def seed_differences(a: Iterable[float | None], b: Iterable[float | None]) -> list[float]:
    """a[i] - b[i] for each seed i, NaN where either is missing."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"a paired difference needs one value per seed in both cells, got {len(a)} and {len(b)}")
    return [np.nan if x is None or y is None else float(x) - float(y) for x, y in zip(a, b)]


def mean_ci(values: Iterable[float | None], scale: Scale = UNBOUNDED, method: str = "bootstrap",
            level: float = LEVEL) -> Interval:
    """Mean and interval of the finite values in `values` (None, NaN and inf are left out) on `scale`."""
    column = np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    return intervals(column.reshape(-1, 1), [scale], method, level)[0]


def intervals(columns: np.ndarray, scales: Sequence[Scale], method: str = "bootstrap",
              level: float = LEVEL) -> list[Interval]:
    """mean_ci of each column of `columns`, shaped (seeds, metrics), each on its scale: many metrics at once."""
    x = np.asarray(columns, dtype=float)
    mean, low, high = curve_band(x, UNBOUNDED, method, level)
    low, high = (np.clip(v, [s.low for s in scales], [s.high for s in scales]) for v in (low, high))
    return [Interval(float(m) if k else None, float(lo) if k > 1 else None, float(hi) if k > 1 else None,
                     int(k), method)
            for m, lo, hi, k in zip(mean, low, high, np.isfinite(x).sum(axis=0))]


def paired_difference(a: Iterable[float | None], b: Iterable[float | None], scale: Scale = UNBOUNDED,
                      method: str = "bootstrap", level: float = LEVEL) -> Interval:
    """Interval of the mean of a[i] - b[i], the i-th entries being the same seed in two cells.

    Pairing by seed removes what the seeds share (the data split, the initialization) from
    the comparison. A seed missing or non-finite in either cell is left out. `scale` is the
    values' own; the difference is on scale.difference().
    """
    return mean_ci(seed_differences(a, b), scale.difference(), method, level)


def curve_band(curves: np.ndarray, scale: Scale = UNBOUNDED, method: str = "bootstrap",
               level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise mean, low and high over seeds of `curves`, shaped (seeds, points).

    Non-finite points (a diverged seed) are left out point by point. Where one seed is
    finite, low = high = mean, so a plot shows the line without a band; where none is, all
    three are NaN and the line has a gap.
    """
    _check_method(method)
    curves = np.asarray(curves, dtype=float)
    mean, low, high = (np.full(curves.shape[1], np.nan) for _ in range(3))
    finite = np.isfinite(curves)
    for mask in np.unique(finite.T, axis=0):  # the seeds finite at a point: usually one or two patterns
        cols = np.flatnonzero((finite.T == mask).all(axis=1))
        x = curves[mask][:, cols]
        if x.shape[0] == 1:
            mean[cols] = low[cols] = high[cols] = x[0]
        elif x.shape[0] > 1:
            mean[cols], low[cols], high[cols] = column_intervals(x, scale, method, level)
    return mean, low, high
