"""Mean and 95% t-interval over seeds, against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from blocklab.report.stats import mean_ci, mean_ci_curves, t_quantile_975


@pytest.mark.parametrize("df, q", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042), (120, 1.980)])
def test_t_quantiles_match_the_standard_table(df, q):
    assert t_quantile_975(df) == pytest.approx(q, abs=5e-4)


def test_t_quantiles_between_table_rows_are_interpolated_and_fall_toward_1_96():
    assert 2.021 < t_quantile_975(35) < 2.042
    assert t_quantile_975(1000) == pytest.approx(1.9623, abs=1e-3)
    qs = [t_quantile_975(df) for df in range(1, 500)]
    assert all(a > b for a, b in zip(qs, qs[1:]))


def test_interval_of_three_values_by_hand():
    # mean 2, sample sd 1, standard error 1/sqrt(3), half-width 4.303/sqrt(3) = 2.4843
    ci = mean_ci([1.0, 2.0, 3.0])
    assert (ci.mean, ci.n) == (2.0, 3)
    assert ci.low == pytest.approx(2 - 4.303 / math.sqrt(3)) and ci.high == pytest.approx(2 + 4.303 / math.sqrt(3))


def test_non_finite_values_are_left_out_and_too_few_give_no_interval():
    assert mean_ci([1.0, float("nan"), 3.0, float("inf")]) == mean_ci([1.0, 3.0])
    one = mean_ci([5.0, float("nan")])
    assert (one.mean, one.low, one.high, one.n) == (5.0, None, None, 1)
    assert mean_ci([]).to_dict() == {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    assert mean_ci([4.0, 4.0, 4.0]).to_dict() == {"mean": 4.0, "ci_low": 4.0, "ci_high": 4.0, "n": 3}


def test_curves_pointwise_with_a_diverged_seed():
    curves = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, np.nan], [2.0, 6.0, np.nan]])
    mean, half = mean_ci_curves(curves)
    assert mean.tolist() == [2.0, 4.0, 3.0]
    assert half[0] == pytest.approx(4.303 / math.sqrt(3))  # sd 1 over three seeds
    assert half[1] == pytest.approx(4.303 * 2 / math.sqrt(3))  # sd 2
    assert half[2] == 0.0  # one finite seed: a line, no band


def test_interval_text_for_a_table_cell():
    assert mean_ci([1.0, 2.0, 3.0]).text() == "2 [-0.4843, 4.484]"  # half-width 4.303 / sqrt(3) = 2.4843
    assert mean_ci([1.0, 2.0, 3.0]).text(".1f") == "2.0 [-0.5, 4.5]"
    assert mean_ci([5.0]).text() == "5" and mean_ci([]).text() == "—"
