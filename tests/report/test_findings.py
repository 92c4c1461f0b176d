"""The README's generated block: each study's finding from its measurements, the ledger's counts, the commits."""
from __future__ import annotations

import pytest

from blocklab.errors import BlocklabError
from blocklab.report import findings
from blocklab.report.claims import NOT_MEASURED, ledger
from blocklab.report.markup import interval_text
from blocklab.report.scales import PERCENT
from blocklab.report.verdicts import Measurement, at_least, at_most, ill_posed

HIGH = [99.0, 99.5, 99.8, 99.2, 99.6]  # five seeds well above 90%


def results(*measurements: Measurement, quick: bool = False, commit: str = "a" * 40, dirty: bool = False) -> dict:
    """The fields of a results dict that the block reads."""
    return {"study": "kept", "measurements": [m.to_dict() for m in measurements], "quick": quick,
            "seeds": list(range(len(HIGH))), "complete": True, "commit": commit, "dirty": dirty,
            "timing": {"updated": ""}}


def confirmed(claim_id: str = "C000-01", part: str = "") -> Measurement:
    return Measurement(claim_id, "~99%", HIGH, "%", at_least(90), part=part, scale=PERCENT)


def refuted(claim_id: str = "C000-08", part: str = "") -> Measurement:
    return Measurement(claim_id, "< 50%", HIGH, "%", at_most(50), part=part, scale=PERCENT)


@pytest.mark.parametrize("ids, text", [
    (["C000-03", "C000-04", "C000-05", "C000-16", "C003-02"], "C000-03 to C000-05, C000-16, C003-02"),
    (["C000-06", "C000-07"], "C000-06, C000-07"),
    (["C000-12"], "C000-12"),
    (["C000-09", "C001-10"], "C000-09, C001-10"),  # consecutive numbers of two documents are no run
    ([], ""),
])
def test_claim_spans_join_consecutive_ids_of_a_document(ids, text):
    assert findings.claim_span(ids) == text


def test_a_claim_of_one_part_reads_its_verdict_value_and_the_source_documents_figure():
    r = results(confirmed())
    value = interval_text(r["measurements"][0], "%")
    assert value.startswith("99.42% [") and findings.default_finding(r) == f"C000-01 confirmed: {value} " \
        "(source document: ~99%)"


def test_a_claim_in_parts_reads_how_many_parts_reached_each_verdict():
    text = findings.default_finding(results(confirmed(), confirmed("C000-08", "a"), refuted("C000-08", "b"),
                                            refuted("C000-16", "a"), refuted("C000-16", "b"), ill_posed("C000-09",
                                                                                                      "x", "why")))
    assert text.startswith("C000-01 confirmed: 99.42% [")
    assert text.endswith("; C000-08 mixed (2 parts: 1 confirmed, 1 refuted); C000-16 refuted (2 parts, all refuted); "
                         "C000-09 ill-posed")


def test_a_quick_run_reads_provisional_with_what_it_would_be():
    assert findings.default_finding(results(refuted(), quick=True)).startswith("C000-08 provisional, would be "
                                                                                "refuted: ")


def test_many_claims_are_grouped_by_verdict_in_one_line():
    ids = [f"C001-0{i}" for i in range(1, 6)]
    r = results(*[refuted(i) if i == "C001-04" else confirmed(i) for i in ids])
    assert findings.default_finding(r) == "confirmed: C001-01 to C001-03, C001-05; refuted: C001-04"


def test_a_study_without_measurements_says_so():
    assert findings.default_finding(results()) == "no claim measured; see its page"


def test_counts_follow_the_verdict_order_and_holm_demotes_only_final_verdicts():
    entries = [{"verdict": "confirmed", "verdict_holm": "inconclusive"},
               {"verdict": "provisional", "verdict_holm": "confirmed"},
               {"verdict": "refuted", "verdict_holm": "refuted"},
               {"verdict": NOT_MEASURED, "verdict_holm": NOT_MEASURED}]
    assert findings.counts(entries) == "1 confirmed, 1 refuted, 1 provisional, 1 not yet measured"
    assert findings.counts(entries, holm=True) == "1 refuted, 1 inconclusive, 1 provisional, 1 not yet measured"


def test_the_block_has_a_row_per_study_the_ledger_counts_and_the_commits():
    kept = results(confirmed(), refuted(), commit="0123456789abcdef" * 2, dirty=True)
    rows = [findings.Row("kept", ("C000-08", "C000-01"), kept, "fits | well\nand fast", "docs/studies/kept.md"),
            findings.Row("absent", (), None, findings.MISSING)]
    block = findings.block(rows, ledger([("kept", kept)]))
    lines = block.splitlines()
    assert lines[0] == findings.BEGIN and lines[-1] == findings.END
    assert "| `kept` | C000-01, C000-08 | 5 | fits \\| well and fast | [page](docs/studies/kept.md) |" in lines
    assert "| `absent` | - | - | not in results/ yet | - |" in lines  # no claims, no results, no page
    n = len(ledger([]))
    assert f"({n} claim IDs): 1 confirmed, 1 refuted, {n - 2} not yet measured. After Holm-Bonferroni over its 2 " \
           "tested parts (family-wise 5%): 1 confirmed, 1 refuted" in block
    assert "Results from commit 0123456789ab with uncommitted changes (kept). Not in results/ yet: absent." in block


def test_the_block_of_no_results_reads_missing_everywhere():
    block = findings.block([findings.Row("absent", ("C000-01",), None, findings.MISSING)], ledger([]))
    assert f"{len(ledger([]))} not yet measured. After" in block and "No study is in results/ yet." in block
    assert "| 1 confirmed" not in block and "not in results/ yet" in block


def test_the_block_replaces_only_the_text_between_its_markers():
    text = f"# title\n\nbefore\n\n{findings.BEGIN}\nold | table\n{findings.END}\n\nafter\n"
    assert findings.replace_block(text, "NEW", "R.md") == "# title\n\nbefore\n\nNEW\n\nafter\n"
    with pytest.raises(BlocklabError, match="R.md has no generated results block"):
        findings.replace_block("# title\n", "NEW", "R.md")
    with pytest.raises(BlocklabError, match="R.md"):
        findings.replace_block(f"{findings.END}\n{findings.BEGIN}\n", "NEW", "R.md")
