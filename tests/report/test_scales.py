"""A metric's range: declared by a study, or inferred from its name only where that is safe."""
from __future__ import annotations

import math

import pytest

from blocklab.errors import BlocklabError
from blocklab.report import results as res
from blocklab.report.scales import FRACTION, LOSS, NONNEGATIVE, PERCENT, UNBOUNDED, Scale, infer_scale, scale_for


@pytest.mark.parametrize("metric, expected", [
    ("acc", (0, 100)), ("final.test_acc", (0, 100)), ("orderings.unseen.acc", (0, 100)), ("diverged_pct", (0, 100)),
    ("loss", (0, math.inf)), ("final.val_loss", (0, math.inf)), ("cls_entropy", (0, math.inf)),
    ("seconds", (0, math.inf)),
    # names that hold a change or a statistic of a metric say nothing safe about its range
    ("acc_change_pp", (-math.inf, math.inf)), ("loss_change", (-math.inf, math.inf)),
    ("entropy_ratio", (-math.inf, math.inf)),
    ("acc_median", (-math.inf, math.inf)), ("weight_x1", (-math.inf, math.inf)),
])
def test_names_infer_a_range_only_where_no_value_can_leave_it(metric, expected):
    scale = infer_scale(metric)
    assert (scale.low, scale.high) == expected


def test_an_inferred_range_that_a_value_leaves_falls_back_to_unbounded():
    assert scale_for("gain_acc", [3.0, -2.0]) == UNBOUNDED  # a difference someone named *_acc
    assert scale_for("gain_acc", [3.0, float("nan")]) == Scale("", 0, 100)  # a diverged seed is no value


def test_a_declared_pattern_wins_and_a_value_outside_it_is_an_error_naming_the_metric():
    declared = {"*.train_acc": FRACTION.to_dict(), "curve.*": LOSS.to_dict()}
    assert scale_for("final.train_acc", [0.5, 1.0], declared) == FRACTION
    assert scale_for("curve.val", [0.5], declared) == LOSS
    with pytest.raises(BlocklabError, match=r"'final.train_acc' has the value 97, outside its declared range \[0, 1\]"):
        scale_for("final.train_acc", [97.0], declared)


def test_scales_round_trip_through_json_and_differences_span_both_signs():
    assert Scale.from_dict(NONNEGATIVE.to_dict()) == NONNEGATIVE and NONNEGATIVE.to_dict()["high"] is None
    assert PERCENT.difference() == Scale("points", -100, 100)
    assert LOSS.difference() == Scale("loss", -math.inf, math.inf)
    with pytest.raises(ValueError, match="low"):
        Scale("", 1, 0)


def test_aggregates_use_the_declared_scale():
    runs = [{"cell": "a", "seed": s, "status": "done", "metrics": {"acc": v}} for s, v in enumerate([0.97, 0.99, 1.0])]
    r = {"cells": [{"name": "a", "params": {}}], "runs": runs, "scales": {"acc": FRACTION.to_dict()}}
    assert res.metric_scales(r) == {"acc": FRACTION}
    del r["scales"]  # results from before declarations: the name's inference
    assert res.metric_scales(r) == {"acc": Scale("", 0, 100)}
