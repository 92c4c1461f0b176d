"""The verdict rule: the 95% interval against the claim's acceptance region; a claim's verdict from its parts."""
from __future__ import annotations

import pytest

from blocklab.report.scales import PERCENT
from blocklab.report.verdicts import (
    Measurement,
    around,
    at_least,
    at_most,
    between,
    claim_verdict,
    combine,
    ill_posed,
    provisional_reason,
)


def verdict(values, rule):
    return Measurement("C000-01", "seed", values, "%", rule).verdict


def test_inside_outside_and_straddling():
    assert verdict([39.0, 40.0, 41.0], around(39.5, 5)) == "confirmed"  # interval within 39..41, inside 34.5..44.5
    assert verdict([60.0, 61.0, 62.0], around(39.5, 5)) == "refuted"
    assert verdict([40.0, 45.0, 50.0], around(39.5, 5)) == "inconclusive"  # the interval crosses 44.5
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


def test_a_part_carries_its_interval_method_scale_p_value_and_needs():
    d = Measurement("C000-06", "100%", [100.0, 99.0, 100.0, 100.0, 98.0], "%", at_least(99), scale=PERCENT).to_dict()
    assert (d["method"], d["scale"], d["region"], d["min_seeds"]) == ("bootstrap", PERCENT.to_dict(), [99, None], 5)
    assert d["ci_high"] <= 100 and d["verdict"] == "inconclusive" and 0.05 < d["p_value"] <= 1
    t = Measurement("C000-06", "100%", [100.0, 99.0, 100.0], "%", at_least(98), scale=PERCENT, method="t").to_dict()
    assert t["method"] == "t" and t["ci_high"] == 100.0  # Student's t (101.1 uncut) cut at the range
    assert ill_posed("C000-16", "x", "why").to_dict()["p_value"] is None
    with pytest.raises(ValueError, match="min_seeds"):
        Measurement("C000-06", "100%", [1.0], "%", at_least(99), min_seeds=0)


@pytest.mark.parametrize("parts, expected", [
    (["confirmed", "confirmed"], "confirmed"),
    (["refuted"], "refuted"),
    (["confirmed", "refuted"], "mixed"),  # C000-01 used to read "refuted" here
    (["confirmed", "refuted", "inconclusive"], "mixed"),
    (["refuted", "inconclusive", "ill-posed"], "refuted"),  # a conjunction with a false part is false
    (["confirmed", "inconclusive", "ill-posed"], "inconclusive"),  # not every part shown yet
    (["confirmed", "ill-posed"], "ill-posed"),
    (["inconclusive", "ill-posed"], "inconclusive"),
])
def test_a_claim_in_parts_is_a_conjunction_and_mixed_when_its_parts_disagree(parts, expected):
    assert combine(parts) == expected


def part(verdict="confirmed", quick=False, seeds=5, **more):
    return {"verdict": verdict, "quick": quick, "seeds": seeds, **more}


def test_quick_runs_and_too_few_seeds_are_provisional_with_the_verdict_they_would_be():
    assert claim_verdict([part(), part()]) == {"verdict": "confirmed", "would_be": "confirmed", "provisional": ""}
    quick = claim_verdict([part("confirmed", quick=True), part("refuted", quick=True)])
    assert quick == {"verdict": "provisional", "would_be": "mixed", "provisional": "from a --quick run"}
    assert provisional_reason(part(seeds=3)) == "3 seeds, the claim needs 5"
    assert provisional_reason(part(seeds=1, min_seeds=1)) == ""  # a quantity no seed changes needs one
    assert provisional_reason(part(seeds=8, min_seeds=10)) == "8 seeds, the claim needs 10"
    assert provisional_reason(part("ill-posed", seeds=1)) == ""  # more seeds cannot make it measurable
    assert provisional_reason({"verdict": "confirmed", "quick": False}) == ""  # a part from before seeds were counted
