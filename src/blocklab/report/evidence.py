"""The evidence behind a claim's verdict, as HTML: its measured parts, their regions, Holm status and notes.

The ledger page folds this under each measured claim; a study page shows it open in the
claim's card. A claim no run measured (in the ledger) or this run did not measure (on a card:
a run of only some of a study's parts) gets one line with the command that would measure it.
A part is a Measurement dict (verdicts.py) as the ledger holds it, with "p_holm" and "holm"
when the ledger's correction ran; results written before p-values lack them.
"""
from __future__ import annotations

import re
from html import escape
from typing import Sequence

from .markup import NUMERIC, badge, interval, number, table

_REGION = re.compile(r"^confirmed if the 95% CI lies (.+?), refuted if")


def region(part: dict) -> str:
    """The acceptance region in a few words ("within ±5% of 20%"), from the part's rule sentence (plain text)."""
    match = _REGION.match(part.get("rule") or "")
    return match.group(1) if match else (part.get("rule") or "—")


def holm(part: dict) -> str:
    """Whether the part's verdict holds after Holm's correction, with its p-values (HTML; "" when untested)."""
    if part.get("p_holm") is None:
        return ""
    held = f"{escape(part['holm'])} after Holm · " if part.get("holm") else ""
    return f"<div class=small>{held}p={part['p_value']:.2g}, Holm p={part['p_holm']:.2g}</div>"


def detectable(part: dict) -> str:
    """For an inconclusive part: the smallest effect its seeds could detect, and the seeds that would settle it."""
    if part["verdict"] != "inconclusive" or part.get("detectable") is None:
        return ""
    more = (f"; about {part['seeds_needed']} seeds would settle it" if part.get("seeds_needed")
            else "; more than 1,000 seeds would be needed" if "seeds_needed" in part else "")
    return (f"<div class=small>{part['n']} seeds detect a mean {escape(number(part['detectable'], part['unit']))} "
            f"from the region's edge (80% power){more}</div>")


def measure_command(studies: Sequence[str]) -> str:
    """The command(s) that would measure a claim, given the studies that measure it (HTML)."""
    return " or ".join(f"<code>blocklab run {escape(s)}</code>" for s in studies) or "no study measures it yet"


def evidence_table(parts: list[dict]) -> str:
    """One row per part: what was measured, the source document's figure, blocklab's value, the region, the verdict."""
    rows = [[escape(p["part"] or "—"), escape(p["seed_value"]), NUMERIC + interval(p, p["unit"]) + detectable(p),
             escape(region(p)), badge(p["verdict"]) + holm(p)] for p in parts]
    return table(["part", "source document", "blocklab: mean [95% interval]", "confirmed if", "verdict"], rows,
                 cls="evidence")


def notes(parts: list[dict]) -> str:
    """Each distinct note once (a claim in ten parts often shares one note), as a list (HTML)."""
    distinct = list(dict.fromkeys(p["note"] for p in parts if p.get("note")))
    return "<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in distinct) + "</ul>" if distinct else ""


def summary(parts: list[dict]) -> str:
    """One line for a ledger row: the value of a single part, or how many parts reached each verdict (HTML)."""
    if len(parts) == 1:
        return interval(parts[0], parts[0]["unit"])
    counts: dict[str, int] = {}
    for p in parts:
        counts[p["verdict"]] = counts.get(p["verdict"], 0) + 1
    return f"{len(parts)} parts: " + ", ".join(f"{n} {escape(v)}" for v, n in counts.items())


def provisional(entry: dict) -> str:
    """Under a provisional verdict: what it would be, and why it is provisional (HTML)."""
    if not entry.get("provisional"):
        return ""
    return f"<div class=small>would be {badge(entry['would_be'])}<br>{escape(entry['provisional'])}</div>"
