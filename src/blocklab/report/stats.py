"""Mean and 95% confidence interval over seeds.

With a handful of seeds the normal approximation (mean ± 1.96 standard errors) is far
too narrow, so the interval uses Student's t with n - 1 degrees of freedom:

    mean ± t(0.975, n - 1) · s / sqrt(n),   s the sample standard deviation (ddof = 1).

For n = 3 that multiplier is 4.303, not 1.96. The quantiles are a table (the standard
one, checked against numerical integration of the t density) so that blocklab needs no
scipy; past 30 degrees of freedom they are interpolated linearly in 1/df, which is
accurate to about 0.001. With fewer than two values there is no interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

# t quantile at 0.975 (two-sided 95%) by degrees of freedom.
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
    16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
    23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
    30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}
_Z975 = 1.960  # the limit as df -> infinity


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df in _T975:
        return _T975[df]
    known = sorted(_T975) + [math.inf]
    hi = next(k for k in known if k > df)
    lo = max(k for k in known if k < df)
    q_lo, q_hi = _T975[lo], _T975.get(hi, _Z975)
    # t quantiles are close to linear in 1/df between table rows.
    w = (1 / lo - 1 / df) / (1 / lo - (0 if hi == math.inf else 1 / hi))
    return q_lo + w * (q_hi - q_lo)


@dataclass(frozen=True)
class Interval:
    """Mean of `n` values with its 95% CI; `low`/`high` are None when n < 2."""

    mean: float | None
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}

    def text(self, fmt: str = ".4g") -> str:
        """'mean [low, high]' for a table cell; the mean alone for one value, '—' for none."""
        if self.mean is None:
            return "—"
        return f"{self.mean:{fmt}}" + ("" if self.low is None else f" [{self.low:{fmt}}, {self.high:{fmt}}]")


def mean_ci(values: Iterable[float]) -> Interval:
    """Mean and 95% t-interval of the finite values in `values` (NaN and inf are left out)."""
    x = np.asarray([float(v) for v in values], dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(None, None, None, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, None, None, 1)
    half = t_quantile_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def mean_ci_curves(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise mean and 95% CI half-width over seeds of `curves`, shaped (seeds, points).

    Non-finite points (a diverged seed) are left out point by point. Where fewer than two
    seeds are finite the half-width is 0, so a plot still shows the line; where none is,
    the mean is NaN and the line has a gap.
    """
    curves = np.asarray(curves, dtype=float)
    finite = np.isfinite(curves)
    n = finite.sum(axis=0)
    safe_n = np.maximum(n, 1)
    x = np.where(finite, curves, 0.0)
    mean = np.where(n > 0, x.sum(axis=0) / safe_n, np.nan)
    sq = np.where(finite, (curves - mean) ** 2, 0.0).sum(axis=0)
    sd = np.sqrt(sq / np.maximum(n - 1, 1))
    t = np.array([t_quantile_975(int(k) - 1) if k >= 2 else 0.0 for k in n])
    return mean, t * sd / np.sqrt(safe_n)
