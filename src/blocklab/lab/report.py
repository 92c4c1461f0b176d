"""The report site, told what the registry knows about each study: report.html.build_report, given the registry.

A run folder whose figures are missing (a clone of the repository's results/ holds results.json alone) gets them
drawn first, from results.json, by the study that wrote it; results.json itself is not rewritten.
For a study's page: its question (Study.question, else the opening paragraph of its module's
docstring), its own tables, the captions of its figures, the figures that show each claim and how
its saved models run in the attention viewer.
For the ledger: which studies measure each claim, so an unmeasured claim names its command.
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

from ..report import html
from ..report.results import find_results, load
from ..report.study_page import StudyNotes
from . import registry
from .registry import Study, load_all
from .runner import draw_figures


def question(study: type[Study]) -> str:
    """What the study asks, in one paragraph: its `question`, else its module docstring's first paragraph."""
    if study.question:
        return study.question
    doc = inspect.getdoc(sys.modules[study.__module__]) or inspect.getdoc(study) or ""
    return " ".join(doc.split("\n\n")[0].split())


def study_notes(results: dict) -> StudyNotes:
    """A study's question, tables, captions and claim figures; empty if it is no longer registered."""
    load_all()
    study = registry.STUDIES.get(results["study"])
    if study is None:
        return StudyNotes()
    instance = study()
    return StudyNotes(question(study), instance.tables(results), study.claim_figures, study.figure_captions,
                      instance.viewers(results))


def claim_studies() -> dict[str, list[str]]:
    """{claim ID: the registered studies that measure it}."""
    load_all()
    out: dict[str, list[str]] = {}
    for name, study in registry.STUDIES.items():
        for claim_id in study.claims:
            out.setdefault(claim_id, []).append(name)
    return out


def draw_missing_figures(root: str | Path) -> list[Path]:
    """Draw the figures of every results.json at or below `root` that lists a figure its folder lacks (by the
    registered study that wrote it; an unregistered one's page says the figure is missing); returns those paths."""
    load_all()
    drawn = []
    for path in find_results(root):
        results = load(path)
        study = registry.STUDIES.get(results["study"])
        if study is not None and not all((path.parent / "figures" / name).is_file() for name in results["figures"]):
            draw_figures(study(), results, path.parent)
            drawn.append(path)
    return drawn


def build_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write the site for every results.json at or below `root` into `out` (default root/report), after drawing
    the figures that are missing."""
    draw_missing_figures(root)
    return html.build_report(root, out, notes=study_notes, claim_studies=claim_studies())
