"""Intervals over seeds: Student's t and the seeded bootstrap, against scipy and on the edge cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from blocklab.report.scales import FRACTION, PERCENT, UNBOUNDED, Scale
from blocklab.report.stats import (
    RESAMPLES,
    curve_band,
    expanded_tail,
    mean_ci,
    paired_difference,
    t_cdf,
    t_pdf,
    t_quantile,
)

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 30, 121])
def test_t_cdf_and_quantiles_match_scipy(df):
    for x in (-7.5, -2.0, -0.3, 0.0, 0.4, 1.96, 4.303, 40.0):
        assert t_cdf(x, df) == pytest.approx(scipy_stats.t.cdf(x, df), abs=1e-12)
        assert t_pdf(x, df) == pytest.approx(scipy_stats.t.pdf(x, df), rel=1e-12)
    for p in (0.001, 0.2, 0.5, 0.8, 0.975, 0.9995):
        assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9, abs=1e-12)


def test_t_option_is_students_interval_cut_to_the_range():
    x = [97.0, 99.5, 100.0]
    mean, sem = np.mean(x), scipy_stats.sem(x)
    half = scipy_stats.t.ppf(0.975, 2) * sem
    ci = mean_ci(x, method="t")
    assert (ci.low, ci.high, ci.method) == (pytest.approx(mean - half), pytest.approx(mean + half), "t")
    assert ci.high > 100  # Student's t alone spills past what an accuracy can be ...
    cut = mean_ci(x, PERCENT, method="t")
    assert cut.low == pytest.approx(mean - half) and cut.high == 100.0  # ... so it is cut at the range's edge


def scipy_percentile_interval(x, tail):
    result = scipy_stats.bootstrap((np.asarray(x),), np.mean, n_resamples=RESAMPLES, method="percentile",
                                   confidence_level=1 - 2 * tail, rng=np.random.default_rng(0))
    return result.confidence_interval


@pytest.mark.parametrize("x", [[0.1, 0.5, 0.2, 0.9, 0.4], [86.7, 49.4, 83.6, 90.1, 88.0, 85.5, 87.2, 52.0, 84.9, 86.3]])
def test_bootstrap_is_scipys_percentile_interval_at_the_expanded_level(x):
    ci = mean_ci(x)
    expected = scipy_percentile_interval(x, expanded_tail(len(x)))
    assert (ci.low, ci.high) == (pytest.approx(expected.low, rel=1e-12), pytest.approx(expected.high, rel=1e-12))
    assert ci.mean == pytest.approx(np.mean(x)) and ci.method == "bootstrap" and ci.n == len(x)


def test_expanded_tails_reach_t_coverage_and_tend_to_the_plain_percentile():
    # Phi(-sqrt(n / (n - 1)) t(0.975, n - 1)), from scipy's normal and t
    for n in (3, 5, 10, 40):
        z = math.sqrt(n / (n - 1)) * scipy_stats.t.ppf(0.975, n - 1)
        assert expanded_tail(n) == pytest.approx(scipy_stats.norm.cdf(-z), rel=1e-9)
    assert expanded_tail(5) == pytest.approx(0.00095, abs=2e-5)
    assert 0.0249 < expanded_tail(5000) < 0.025


def test_bootstrap_covers_the_mean_about_95_percent_of_the_time_with_five_seeds():
    # normal seeds, true mean 0: an honest 95% interval misses about 5% of the time (plain percentiles miss ~13%)
    rng = np.random.default_rng(1)
    misses = sum(mean_ci(rng.normal(0, 1, 5)).excludes(0.0) for _ in range(400))
    assert misses / 400 <= 0.08


def test_bootstrap_is_deterministic_and_stays_within_the_values():
    rng = np.random.default_rng(2)
    for _ in range(50):
        x = rng.uniform(0, 1, rng.integers(2, 12)) ** 4  # skewed, piled against 0
        ci = mean_ci(x, FRACTION)
        assert x.min() <= ci.low <= ci.mean <= ci.high <= x.max()
        assert mean_ci(x, FRACTION) == ci


def test_edge_cases_all_equal_one_seed_diverged_seed():
    assert mean_ci([4.0, 4.0, 4.0]).to_dict() == {"mean": 4.0, "ci_low": 4.0, "ci_high": 4.0, "n": 3}
    one = mean_ci([5.0, float("nan"), None])
    assert (one.mean, one.low, one.high, one.n) == (5.0, None, None, 1)
    assert mean_ci([]).to_dict() == {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    # a diverged seed (None in results.json, NaN or inf in memory) is left out, not averaged in
    assert mean_ci([1.0, None, 3.0, float("inf"), 2.0]) == mean_ci([1.0, 3.0, 2.0])
    with pytest.raises(ValueError, match="'normal' is not one of bootstrap, t"):
        mean_ci([1.0, 2.0], method="normal")


def test_paired_difference_is_the_interval_of_per_seed_differences_on_the_difference_scale():
    a, b = [90.0, 92.0, None, 95.0, 91.0, 93.0], [80.0, 83.0, 70.0, 84.0, 81.0, 81.0]
    d = paired_difference(a, b, PERCENT)
    assert d == mean_ci([10.0, 9.0, 11.0, 10.0, 12.0])  # seed 2 diverged in a: left out of both
    assert PERCENT.difference() == Scale("points", -100.0, 100.0)
    assert d.excludes(0.0) and not d.excludes(10.0)
    # pairing removes what a seed shares across cells: a shift of 1 is clear though the seeds differ by 40
    base = [10.0, 50.0, 30.0, 20.0, 40.0]
    assert paired_difference([v + 1 for v in base], base).excludes(0.0)
    assert not mean_ci([v + 1 for v in base]).excludes(mean_ci(base).mean)
    with pytest.raises(ValueError, match="one value per seed"):
        paired_difference([1.0], [1.0, 2.0])


def test_curve_band_is_the_pointwise_interval_with_gaps_for_diverged_seeds():
    curves = np.array([[1.0, 2.0, 3.0, np.nan], [3.0, 4.0, np.nan, np.nan], [2.0, 7.0, np.nan, np.nan]])
    mean, low, high = curve_band(curves, UNBOUNDED)
    for j in (0, 1):
        ci = mean_ci(curves[:, j])
        assert (mean[j], low[j], high[j]) == pytest.approx((ci.mean, ci.low, ci.high))
    assert (mean[2], low[2], high[2]) == (3.0, 3.0, 3.0)  # one finite seed: a line, no band
    assert np.isnan([mean[3], low[3], high[3]]).all()  # none: a gap
    _, t_low, _ = curve_band(np.array([[0.01, 0.02], [0.5, 0.02], [0.02, 0.03]]), Scale("", 0, math.inf), "t")
    assert t_low[0] == 0.0 and t_low[1] > 0  # Student's t band cut at zero, as a loss or an entropy needs


def test_interval_text_for_a_table_cell():
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.text() == f"2 [{ci.low:.4g}, {ci.high:.4g}]" and 1.0 <= ci.low < 2 < ci.high <= 3.0
    assert mean_ci([1.0, 2.0, 3.0], method="t").text(".1f") == "2.0 [-0.5, 4.5]"  # 2 ± 4.303 / sqrt(3)
    assert mean_ci([5.0]).text() == "5" and mean_ci([]).text() == "—"
