"""The README's numbers, written from results.json files: the studies table's findings and the ledger's counts.

The README holds one generated block between two marker comments (BEGIN, END): a table with a row per study
(its claims, the seeds of its results.json, a one-line finding, its page), the claims ledger's counts before and
after Holm's correction, and the commits the results came from. `blocklab readme results` rewrites it; a test
fails when the README's block differs from what results/ gives, so no number in it is typed by hand.
A study without a results.json reads "not in results/ yet". This module knows no study: the lab gives each row.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BlocklabError
from .claims import NOT_MEASURED, study_verdicts
from .markup import interval_text
from .significance import ALPHA
from .verdicts import VERDICTS

BEGIN = "<!-- results: written by `blocklab readme results` from results/*/results.json; do not edit by hand -->"
END = "<!-- end of results -->"
MISSING = "not in results/ yet"
MANY_CLAIMS = 4  # a study measuring more claims gets its claims grouped by verdict, so that its row stays one line
_ID = re.compile(r"^C(\d{3})-(\d{2})$")


@dataclass
class Row:
    """One study of the table: its name, the claim IDs it measures, its results (None when absent), its finding and
    its page (a path relative to the README; "" when it has none)."""

    study: str
    claims: tuple[str, ...]
    results: dict | None
    finding: str  # MISSING when results is None
    page: str = ""


def claim_span(ids: tuple[str, ...] | list[str]) -> str:
    """Claim IDs with runs of consecutive ones of a document joined: "C000-03 to C000-05, C000-16"."""
    spans: list[list[str]] = []
    for claim_id in ids:
        last = spans[-1][-1] if spans else ""
        if _next(last) == claim_id:
            spans[-1].append(claim_id)
        else:
            spans.append([claim_id])
    return ", ".join(s[0] if len(s) == 1 else f"{s[0]}, {s[1]}" if len(s) == 2 else f"{s[0]} to {s[-1]}"
                     for s in spans)


def _next(claim_id: str) -> str:
    match = _ID.match(claim_id)
    return f"C{match.group(1)}-{int(match.group(2)) + 1:02d}" if match else ""


def default_finding(results: dict) -> str:
    """A study's finding from its claim verdicts: each claim's verdict with its measured value (one part) or its
    parts' verdicts; past MANY_CLAIMS claims, the claim IDs grouped by verdict."""
    verdicts = study_verdicts(results)
    if not verdicts:
        return "no claim measured; see its page"
    if len(verdicts) > MANY_CLAIMS:
        by: dict[str, list[str]] = {}
        for claim_id, v in verdicts.items():
            by.setdefault(_verdict(v), []).append(claim_id)
        return "; ".join(f"{verdict}: {claim_span(sorted(ids))}" for verdict, ids in by.items())
    return "; ".join(f"{claim_id} {_verdict(v)}{_headline(results, claim_id)}" for claim_id, v in verdicts.items())


def _verdict(v: dict) -> str:
    return f"provisional, would be {v['would_be']}" if v["verdict"] == "provisional" else v["verdict"]


def _headline(results: dict, claim_id: str) -> str:
    """": 99.85% [99.5, 100] (source document: ~100%)" for a claim of one part, " (3 parts: 2 confirmed, 1 refuted)"
    or " (3 parts, all refuted)" for more."""
    parts = [m for m in results["measurements"] if m["claim_id"] == claim_id]
    if len(parts) == 1:
        p = parts[0]
        return f": {interval_text(p, p['unit'])} (source document: {p['seed_value']})" if p["rule"] else ""
    counts: dict[str, int] = {}
    for p in parts:
        counts[p["verdict"]] = counts.get(p["verdict"], 0) + 1
    if len(counts) == 1:
        return f" ({len(parts)} parts, all {parts[0]['verdict']})"
    return f" ({len(parts)} parts: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ")"


def seeds_text(results: dict | None) -> str:
    """The seeds column: how many seeds the results hold, with what keeps them from being final."""
    if results is None:
        return "-"
    notes = ["--quick"] * results["quick"] + ["incomplete"] * (not results["complete"])
    return f"{len(results['seeds'])}" + (f" ({', '.join(notes)})" if notes else "")


def table(rows: list[Row]) -> str:
    lines = ["| study | claims | seeds | finding | page |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{r.study}` | {claim_span(sorted(r.claims)) or '-'} | {seeds_text(r.results)} | {_cell(r.finding)} | "
              f"{f'[page]({r.page})' if r.page else '-'} |" for r in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text that stays in its markdown table cell: one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def counts(entries: list[dict], holm: bool = False) -> str:
    """How many claim IDs reached each verdict, in VERDICTS order: "2 confirmed, 5 refuted, 42 not yet measured".
    With `holm`, a part whose verdict does not hold after the correction counts as inconclusive (a provisional
    claim stays provisional)."""
    def verdict(e: dict) -> str:
        return e["verdict_holm"] if holm and e["verdict"] != "provisional" else e["verdict"]

    n = {v: sum(verdict(e) == v for e in entries) for v in (*VERDICTS, NOT_MEASURED)}
    return ", ".join(f"{k} {v}" for v, k in n.items() if k)


def provenance(rows: list[Row]) -> str:
    """Which commit each study's results came from, and which studies are not in results/ yet."""
    by_commit: dict[str, list[str]] = {}
    for r in rows:
        if r.results is not None:
            commit = r.results["commit"][:12] + (" with uncommitted changes" if r.results["dirty"] else "")
            by_commit.setdefault(commit, []).append(r.study)
    missing = [r.study for r in rows if r.results is None]
    if not by_commit:
        return "No study is in results/ yet."
    text = "Results from commit " + "; ".join(
        f"{commit}" + ("" if len(by_commit) == 1 and not missing else f" ({', '.join(studies)})")
        for commit, studies in by_commit.items()) + "."
    return text + (f" Not in results/ yet: {', '.join(missing)}." if missing else "")


def block(rows: list[Row], entries: list[dict]) -> str:
    """The README's generated block, markers included, from the table's rows and the ledger of their results."""
    measured = sum(1 for e in entries for p in e["parts"] if p.get("p_value") is not None)
    ledger = (f"The claims ledger of results/ ({len(entries)} claim IDs): {counts(entries)}. After Holm-Bonferroni "
              f"over its {measured} tested parts (family-wise {ALPHA:.0%}): {counts(entries, holm=True)}.")
    return "\n\n".join([BEGIN, table(rows), f"{ledger} {provenance(rows)}", END])


def replace_block(text: str, new: str, where: str) -> str:
    """`text` with its generated block (BEGIN to END, markers included) replaced by `new`; `where` names the file."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise BlocklabError(f"{where} has no generated results block: it needs the line {BEGIN!r} and, after it, "
                            f"{END!r}")
    return text[:start] + new + text[end + len(END):]
