"""The claims ledger: every claim from the source documents, with blocklab's measured verdict.

The claims list ships with the package (claims.md, a copy of the project's CLAIMS.md):
sections of `| ID | claim |` tables. The ledger joins it with the measurements stored in
results.json files. Every claim gets an entry, measured or not. A claim may be measured in
parts by different studies (C000-16's failure modes span studies 45-49): the entry joins
the parts of every study. When several runs of one study measure the claim (a --quick run
and a full one, say), the ledger takes the one with the most weight: full fidelity over
--quick, then more seeds, then the most recent.

The verdict of an entry follows verdicts.claim_verdict (mixed, provisional, ...). Over every
measured part of the ledger with a p-value, Holm-Bonferroni's correction (significance.py)
says which parts' verdicts hold at family-wise 5%.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Hashable, Iterable

from ..errors import BlocklabError
from .significance import ALPHA, holm
from .verdicts import claim_verdict, combine

NOT_MEASURED = "not yet measured"
_ROW = re.compile(r"^\|\s*(C\d{3}-\d{2})\s*\|\s*(.+?)\s*\|\s*$")


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    section: str  # the heading it stands under, e.g. "000 — building blocks (studies 45–51)"


def parse_claims(markdown: str) -> list[Claim]:
    """Claims from `| ID | claim |` rows, each under the last `## ` heading before it."""
    claims, section = [], ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif match := _ROW.match(line):
            claims.append(Claim(match.group(1), match.group(2), section))
    ids = [c.id for c in claims]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"claims.md lists these IDs more than once: {repeated}")
    return claims


@functools.cache
def load_claims() -> tuple[Claim, ...]:
    """The packaged claims list."""
    text = resources.files(__package__).joinpath("claims.md").read_text(encoding="utf-8")
    return tuple(parse_claims(text))


def claim_ids() -> set[str]:
    return {c.id for c in load_claims()}


def _weight(results: dict) -> tuple:
    return (not results["quick"], len(results["seeds"]), results["timing"].get("updated", ""))


def _parts(results: dict, claim_id: str, **extra) -> list[dict]:
    """The measurements of one claim in one results dict, with the run's "quick" and "seeds" added."""
    return [{**m, **extra, "quick": results["quick"], "seeds": len(results["seeds"])}
            for m in results["measurements"] if m["claim_id"] == claim_id]


def unmeasured(parts: list[dict]) -> bool:
    """Whether no part has a value although one could: the claim's cells did not run (a run of only some parts).
    A seed that diverged still gives a value (a non-finite one); an ill-posed part (no rule) never has one."""
    return not any(p.get("values") for p in parts) and any(p.get("rule") for p in parts)


def study_verdicts(results: dict) -> dict[str, dict]:
    """claim_verdict() of each claim one results dict measures, in the order first measured
    (for `blocklab run`'s summary)."""
    ids = dict.fromkeys(m["claim_id"] for m in results["measurements"])
    return {claim_id: {**claim_verdict(parts), "parts": len(parts)}
            for claim_id in ids for parts in [_parts(results, claim_id)]}


def ledger(runs: Iterable[tuple[Hashable, dict]]) -> list[dict]:
    """One entry per claim, in claims.md order.

    `runs` pairs a key of the caller's choice (the report uses a page name) with a loaded
    results dict. An entry holds id, text, section, verdict (NOT_MEASURED when no run measures
    it), would_be and provisional (verdicts.claim_verdict), verdict_holm (the verdict from the
    parts that hold after Holm's correction, the others counted inconclusive), parts (the
    measurements of the chosen run of each study that has values for it, each with its "study", "source", "quick" and
    "seeds" keys added, and "p_holm" and "holm" from the correction), and also_in (how many other
    runs measure it).
    """
    by_claim: dict[str, dict[str, list[tuple[tuple, Hashable, dict]]]] = {}
    for key, results in runs:
        for claim_id in {m["claim_id"] for m in results["measurements"]}:
            by_study = by_claim.setdefault(claim_id, {})
            if unmeasured(_parts(results, claim_id)):  # a run of only some parts: another run's values count
                continue
            by_study.setdefault(results["study"], []).append((_weight(results), key, results))
    entries = []
    for claim in load_claims():
        entry = {"id": claim.id, "text": claim.text, "section": claim.section, "verdict": NOT_MEASURED,
                 "would_be": NOT_MEASURED, "provisional": "", "verdict_holm": NOT_MEASURED, "parts": [], "also_in": 0}
        for study, candidates in sorted(by_claim.pop(claim.id, {}).items()):
            _, key, results = max(candidates, key=lambda c: c[0])
            entry["parts"] += _parts(results, claim.id, study=study, source=key)
            entry["also_in"] += len(candidates) - 1
        if entry["parts"]:
            entry.update(claim_verdict(entry["parts"]))
        entries.append(entry)
    if by_claim:
        studies = sorted({s for c in by_claim.values() for s in c})
        raise BlocklabError(f"results of {', '.join(studies)} measure claims that claims.md does not list: "
                            f"{', '.join(sorted(by_claim))}")
    _correct(entries)
    return entries


def _correct(entries: list[dict]) -> None:
    """Holm over every part with a p-value (results from before p-values have none: they stay out, holm "")."""
    tested = [p for e in entries for p in e["parts"] if p.get("p_value") is not None]
    for part, adjusted in zip(tested, holm([p["p_value"] for p in tested])):
        part["p_holm"] = adjusted
        if part["verdict"] in ("confirmed", "refuted"):
            part["holm"] = "holds" if adjusted <= ALPHA else "does not hold"
    for e in entries:
        for part in e["parts"]:
            part.setdefault("p_holm", None)
            part.setdefault("holm", "")
        if e["parts"]:
            e["verdict_holm"] = combine([p["verdict"] if p["holm"] != "does not hold" else "inconclusive"
                                         for p in e["parts"]])
