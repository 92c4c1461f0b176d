"""The static report: index.html, ledger.html and one article per study run, from results.json files and saved models.

The figures next to each results.json are copied in, and the stylesheet and the scripts of the
ledger and the attention viewer (assets/) are written beside the pages, with the weights of the
models the viewer runs (viewer/), so the folder can be moved or published as it is and
read from file:// with nothing fetched from elsewhere. The pages are written by index_page,
ledger_page and study_page, in the vocabulary of markup.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..errors import BlocklabError
from ..io import atomic_write_text
from .claims import ledger
from .index_page import index_page
from .ledger_page import ledger_page
from .results import find_results, load
from .study_page import StudyNotes, study_page

ASSETS = ("site.css", "ledger.js", "transformer.js", "viewer.js")


def build_report(root: str | Path, out: str | Path | None = None,
                 notes: Callable[[dict], StudyNotes] | None = None,
                 claim_studies: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Write the site for every results.json at or below `root` into `out` (default root/report); returns index.html.

    `notes(results)` gives what the registry knows about a study (its question, tables, figure
    captions and the figures of each claim) and `claim_studies` the studies that measure each
    claim ID, for the ledger's "not yet measured" rows; the lab passes both
    (blocklab.lab.report.build_report), as this package knows no study.
    """
    root = Path(root)
    root = root.parent if root.is_file() else root
    out = Path(out) if out is not None else root / "report"
    paths = [p for p in find_results(root) if out.resolve() not in p.resolve().parents]
    if not paths:
        raise BlocklabError(f"no results.json found at or below {root}; run a study first (blocklab run STUDY --quick)")
    runs, taken = [], set()
    for path in paths:
        name = _page_name(root, path)
        while name in taken:  # "a-b/c" and "a/b-c" flatten alike
            name = name.removesuffix(".html") + "-2.html"
        taken.add(name)
        runs.append((name, path, load(path)))
    entries = ledger((name, results) for name, _, results in runs)
    by_id = {e["id"]: e for e in entries}
    for name, path, results in runs:
        study_notes = notes(results) if notes is not None else StudyNotes()
        atomic_write_text(out / name, study_page(name, path, results, out, study_notes, by_id))
    for asset in ASSETS:
        atomic_write_text(out / asset, resources.files(__package__).joinpath("assets", asset).read_text("utf-8"))
    atomic_write_text(out / "ledger.html", ledger_page(entries, claim_studies or {}))
    return atomic_write_text(out / "index.html", index_page(runs, entries))


def _page_name(root: Path, path: Path) -> str:
    rel = path.parent.relative_to(root) if path.parent != root else Path(path.parent.name)
    return "study-" + re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(rel.parts)) + ".html"
