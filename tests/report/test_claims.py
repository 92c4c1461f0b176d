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


def fake_results(study, quick, seeds, verdict, updated="2026-01-01", p_value=None, claim="C000-10"):
    m = {"claim_id": claim, "part": "", "verdict": verdict}
    if p_value is not None:  # results written before p-values have none
        m["p_value"] = p_value
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
    runs = [("p45", fake_results("s45", False, 5, "confirmed")), ("p47", fake_results("s47", False, 5, "refuted")),
            ("p47-quick", fake_results("s47", True, 5, "confirmed"))]
    entry = next(e for e in ledger(runs) if e["id"] == "C000-10")
    assert [p["study"] for p in entry["parts"]] == ["s45", "s47"]
    assert (entry["verdict"], entry["also_in"]) == ("mixed", 1)
    assert [p["holm"] for p in entry["parts"]] == ["", ""]  # no p-values (older results): no correction, no error


def test_a_quick_or_short_run_is_provisional():
    quick = next(e for e in ledger([("q", fake_results("a", True, 5, "confirmed"))]) if e["id"] == "C000-10")
    assert (quick["verdict"], quick["would_be"], quick["provisional"]) == ("provisional", "confirmed",
                                                                           "from a --quick run")
    short = next(e for e in ledger([("s", fake_results("a", False, 3, "refuted"))]) if e["id"] == "C000-10")
    assert (short["verdict"], short["provisional"]) == ("provisional", "3 seeds, the claim needs 5")


def test_holm_runs_over_every_measured_part_of_the_ledger():
    # three parts in three claims: 0.01 x 3 = 0.03 holds; 0.02 x 2 = 0.04 holds; 0.04 x 1, but not below 0.04: holds;
    # with a fourth part at 0.3 the family is four: 0.01 x 4 = 0.04 holds, 0.02 x 3 = 0.06 does not, and so on
    runs = [("a", fake_results("a", False, 5, "confirmed", p_value=0.01, claim="C000-01")),
            ("b", fake_results("b", False, 5, "refuted", p_value=0.02, claim="C000-02")),
            ("c", fake_results("c", False, 5, "confirmed", p_value=0.04, claim="C000-03"))]
    by_id = {e["id"]: e for e in ledger(runs)}
    assert [by_id[c]["parts"][0]["holm"] for c in ("C000-01", "C000-02", "C000-03")] == ["holds"] * 3
    runs.append(("d", fake_results("d", False, 5, "inconclusive", p_value=0.3, claim="C000-04")))
    by_id = {e["id"]: e for e in ledger(runs)}
    parts = [by_id[c]["parts"][0] for c in ("C000-01", "C000-02", "C000-03", "C000-04")]
    assert [p["p_holm"] for p in parts] == pytest.approx([0.04, 0.06, 0.08, 0.3])
    assert [p["holm"] for p in parts] == ["holds", "does not hold", "does not hold", ""]
    assert [by_id[c]["verdict_holm"] for c in ("C000-01", "C000-02", "C000-03")] == ["confirmed", "inconclusive",
                                                                                    "inconclusive"]
    assert by_id["C000-02"]["verdict"] == "refuted"  # the uncorrected verdict stays, the correction is beside it


def test_a_measured_id_that_the_list_lacks_is_an_error():
    r = fake_results("a", False, 3, "confirmed")
    r["measurements"][0]["claim_id"] = "C999-99"
    with pytest.raises(BlocklabError, match="C999-99"):
        ledger([("x", r)])


def test_the_terminal_summary_gives_the_ledgers_verdicts(capsys):
    from pathlib import Path

    from blocklab.cli.run import _summarize
    from blocklab.report.results import load

    folder = Path(__file__).parent / "data" / "attention-quick"
    assert _summarize(folder) == 0
    line = capsys.readouterr().out
    entries = {e["id"]: e for e in ledger([("a", load(folder / "results.json"))]) if e["parts"]}
    for claim_id, e in entries.items():
        assert f"{claim_id} {e['verdict']} (would be {e['would_be']}; {e['provisional']}" in line
    assert "C000-16 provisional (would be mixed; from a --quick run; 3 parts)" in line
