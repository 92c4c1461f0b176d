"""The report site, told what the registry knows about each study: report.html.build_report, given the registry.

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
from ..report.study_page import StudyNotes
from . import registry
from .registry import Study, load_all


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


def build_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write the site for every results.json at or below `root` into `out` (default root/report)."""
    return html.build_report(root, out, notes=study_notes, claim_studies=claim_studies())
