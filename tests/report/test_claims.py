"""The packaged claims list and the ledger that joins it with measurements."""
from __future__ import annotations

import re
from importlib import resources

import pytest

from blocklab.errors import BlocklabError
from blocklab.report.claims import NOT_MEASURED, ledger, load_claims, parse_claims


def packaged_ids() -> list[str]:
    text = resources.files("blocklab.report").joinpath("claims.md").read_text(encoding="utf-8")
    return re.findall(r"^\| (C\d{3}-\d{2}) \|", text, flags=re.M)


def test_every_claim_row_of_the_packaged_list_is_parsed():
    ids = packaged_ids()
    assert len(ids) > 40 and [c.id for c in load_claims()] == ids
    claims = {c.id: c for c in load_claims()}
    assert claims["C000-10"].text.startswith("First-vs-last: 39.5% without positional encoding")
    assert claims["C003-01"].section.startswith("003")


def test_a_repeated_id_is_an_error():
    with pytest.raises(ValueError, match="C000-01"):
        parse_claims("## s\n| C000-01 | a |\n| C000-01 | b |\n")


def fake_results(study, quick, seeds, verdict, updated="2026-01-01"):
    m = {"claim_id": "C000-10", "part": "", "verdict": verdict}
    return {"study": study, "quick": quick, "seeds": list(range(seeds)), "timing": {"updated": updated},
            "measurements": [m]}


def test_every_claim_has_an_entry_and_unmeasured_ones_say_so():
    entries = ledger([])
    assert [e["id"] for e in entries] == packaged_ids()
    assert {e["verdict"] for e in entries} == {NOT_MEASURED}


def test_full_fidelity_beats_quick_then_more_seeds_then_newer():
    runs = [("quick", fake_results("a", True, 5, "refuted")), ("full3", fake_results("a", False, 3, "inconclusive")),
            ("full5", fake_results("a", False, 5, "confirmed", "2026-01-01")),
            ("full5-old", fake_results("a", False, 5, "refuted", "2025-01-01"))]
    entry = next(e for e in ledger(runs) if e["id"] == "C000-10")
    assert [(p["source"], p["study"]) for p in entry["parts"]] == [("full5", "a")]
    assert (entry["verdict"], entry["also_in"]) == ("confirmed", 3)


def test_parts_measured_by_different_studies_are_joined():
    runs = [("p45", fake_results("s45", False, 3, "confirmed")), ("p47", fake_results("s47", False, 3, "refuted")),
            ("p47-quick", fake_results("s47", True, 3, "confirmed"))]
    entry = next(e for e in ledger(runs) if e["id"] == "C000-10")
    assert [p["study"] for p in entry["parts"]] == ["s45", "s47"]
    assert (entry["verdict"], entry["also_in"]) == ("refuted", 1)


def test_a_measured_id_that_the_list_lacks_is_an_error():
    r = fake_results("a", False, 3, "confirmed")
    r["measurements"][0]["claim_id"] = "C999-99"
    with pytest.raises(BlocklabError, match="C999-99"):
        ledger([("x", r)])
