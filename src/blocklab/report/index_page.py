"""index.html: the studies run, each linked to its page, and the ledger's verdict counts linked to the ledger."""
from __future__ import annotations

from html import escape
from pathlib import Path

from .claims import study_verdicts
from .ledger_page import tally
from .markup import NUMERIC, badge, page, table


def index_page(runs: list[tuple[str, Path, dict]], entries: list[dict]) -> str:
    """`runs`: (page name, results.json path, results) per study run; `entries`: the ledger."""
    rows = [[f"<a href='{escape(name)}'>{escape(r['study'])}</a>", escape(r["description"]),
             "quick" if r["quick"] else "full", f"{NUMERIC}{len(r['seeds'])}", _verdicts(r),
             f"<span class=small>{escape(str(path.parent))}</span>"] for name, path, r in runs]
    body = (
        "<h1>blocklab report</h1><p class=lead>Every claim of the source documents, measured by studies anyone can "
        "rerun with one command. Each study page reads as an article: the question, then a card per claim with its "
        "verdict, evidence, figures and command.</p>"
        f"<h2><a href='ledger.html'>Claims ledger</a></h2><p class=tally>{tally(entries)}</p>"
        "<h2>Studies</h2>" + table(["study", "description", "fidelity", "seeds", "claims measured", "folder"], rows)
    )
    return page("blocklab report", body)


def _verdicts(r: dict) -> str:
    """How many of the study's claims reached each verdict in this run, as badges (HTML)."""
    counts: dict[str, int] = {}
    for v in study_verdicts(r).values():
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    return " ".join(f"{badge(v)} {n}" for v, n in counts.items()) or "<span class=muted>none</span>"
