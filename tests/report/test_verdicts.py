"""The verdict rule: the 95% interval against the claim's acceptance region."""
from __future__ import annotations

import pytest

from blocklab.report.verdicts import Measurement, around, at_least, at_most, between, combine, ill_posed


def verdict(values, rule):
    return Measurement("C000-01", "seed", values, "%", rule).verdict


def test_inside_outside_and_straddling():
    assert verdict([39.0, 40.0, 41.0], around(39.5, 5)) == "confirmed"  # CI 37.5..42.5 within 34.5..44.5
    assert verdict([60.0, 61.0, 62.0], around(39.5, 5)) == "refuted"
    assert verdict([40.0, 45.0, 50.0], around(39.5, 5)) == "inconclusive"  # CI 32.6..57.4 crosses 44.5
    assert verdict([85.0, 86.0, 87.0], between(80, 90)) == "confirmed"
    assert verdict([99.0, 100.0, 100.0], at_least(95)) == "confirmed"
    assert verdict([0.5, 0.6, 0.7], at_most(0.1)) == "refuted"


def test_no_interval_is_inconclusive_and_ill_posed_needs_a_reason():
    assert verdict([40.0], around(40, 5)) == "inconclusive"
    assert verdict([40.0, float("nan"), float("nan")], around(40, 5)) == "inconclusive"
    m = ill_posed("C000-16", "BatchNorm at batch 1 is undefined", "no number to compare")
    assert m.verdict == "ill-posed" and m.to_dict()["note"] == "no number to compare"


def test_the_rule_is_stated_in_words_with_its_numbers():
    d = Measurement("C000-10", "39.5%", [39.0, 40.0, 41.0], "%", around(39.5, 5)).to_dict()
    assert d["rule"] == "confirmed if the 95% CI lies within ±5% of 39.5%, refuted if it lies wholly outside"
    assert (d["mean"], d["n"], d["verdict"]) == (40.0, 3, "confirmed")


@pytest.mark.parametrize("parts, expected", [
    (["confirmed", "confirmed"], "confirmed"),
    (["confirmed", "refuted", "inconclusive"], "refuted"),
    (["confirmed", "inconclusive", "ill-posed"], "inconclusive"),
    (["confirmed", "ill-posed"], "ill-posed"),
])
def test_a_claim_in_parts_takes_its_weakest_part(parts, expected):
    assert combine(parts) == expected
