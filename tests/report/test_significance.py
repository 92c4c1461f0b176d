"""p-values of a verdict, Holm's correction and the detectable effect, against scipy and by hand."""
from __future__ import annotations

import numpy as np
import pytest

from blocklab.report.scales import PERCENT
from blocklab.report.significance import detectable_effect, holm, region_p_values, seeds_to_detect
from blocklab.report.verdicts import Measurement, around, at_least

scipy_stats = pytest.importorskip("scipy.stats")


def test_p_values_are_t_tests_against_the_regions_edges():
    x = [83.0, 86.5, 88.0, 84.5, 87.0]
    p_confirm, p_refute = region_p_values(x, 80, None)
    assert p_confirm == pytest.approx(scipy_stats.ttest_1samp(x, 80).pvalue, rel=1e-9) and p_refute == 1.0
    # a centred region: confirmation must clear the nearer edge (here 90)
    p_confirm, _ = region_p_values(x, 80, 90)
    assert p_confirm == pytest.approx(scipy_stats.ttest_1samp(x, 90).pvalue, rel=1e-9)
    _, p_refute = region_p_values(x, 95, 99)
    assert p_refute == pytest.approx(scipy_stats.ttest_1samp(x, 95).pvalue, rel=1e-9)
    assert region_p_values([85.0], 80, None) is None


def test_an_edge_beyond_the_metrics_range_is_dropped_and_equal_seeds_are_certain():
    x = [99.2, 99.9, 100.0, 99.6]
    assert region_p_values(x, 99, 101, PERCENT) == region_p_values(x, 99, None)  # no accuracy exceeds 100
    assert region_p_values([4.0, 4.0, 4.0], 3, 5) == (0.0, 1.0)
    assert region_p_values([6.0, 6.0, 6.0], 3, 5) == (1.0, 0.0)


def test_with_students_interval_a_verdict_is_definite_exactly_when_its_p_value_is_at_most_5_percent():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = Measurement("C000-10", "39.5%", rng.normal(rng.uniform(30, 50), rng.uniform(0.5, 6), 5), "%",
                        around(39.5, 5), method="t")
        assert (m.verdict in ("confirmed", "refuted")) == (m.p_value <= 0.05)


def test_holm_by_hand():
    # sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1, but never below the step before: 0.06)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_the_detectable_effect_has_80_percent_power():
    x = [1.0, 3.0, 2.0, 5.0, 4.0, 2.5]
    n, s = len(x), np.std(x, ddof=1)
    d = detectable_effect(x)
    assert d == pytest.approx((scipy_stats.t.ppf(0.975, n - 1) + scipy_stats.t.ppf(0.8, n - 1)) * s / np.sqrt(n))
    # power of a one-sided t-test at that true effect (noncentral t): the formula's 80%, up to its approximation
    power = scipy_stats.nct.sf(scipy_stats.t.ppf(0.975, n - 1), n - 1, d / (s / np.sqrt(n)))
    assert power == pytest.approx(0.8, abs=0.02)
    assert detectable_effect([3.0]) is None


def test_seeds_to_detect_is_the_fewest_that_reach_the_distance():
    x = [10.0, 14.0, 12.0, 9.0, 15.0]
    n = seeds_to_detect(x, 2.0)
    s = np.std(x, ddof=1)

    def effect(k):
        return (scipy_stats.t.ppf(0.975, k - 1) + scipy_stats.t.ppf(0.8, k - 1)) * s / np.sqrt(k)

    assert effect(n) <= 2.0 < effect(n - 1)
    assert seeds_to_detect(x, 1e-6) is None  # beyond 1,000 seeds: not worth chasing
    assert seeds_to_detect([5.0, 5.0], 1.0) is None


def test_an_inconclusive_part_states_what_its_seeds_could_detect_and_how_many_would_settle_it():
    m = Measurement("C000-02", "~80%", [78.0, 92.0, 85.0, 70.0, 88.0], "%", at_least(80)).to_dict()
    assert m["verdict"] == "inconclusive" and m["p_value"] > 0.05
    assert m["detectable"] == pytest.approx(detectable_effect(m["values"]))
    assert m["seeds_needed"] == seeds_to_detect(m["values"], abs(m["mean"] - 80)) > 5
