"""The report site with each study's own tables: report.html.build_report, given the registry."""
from __future__ import annotations

from pathlib import Path

from ..report import html
from ..report.tables import Table
from .registry import STUDIES, load_all


def study_tables(results: dict) -> list[Table]:
    """The study's own tables (Study.tables), computed from its results; none if it is no longer registered."""
    load_all()
    study = STUDIES.get(results["study"])
    return study().tables(results) if study is not None else []


def build_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write the site for every results.json at or below `root` into `out` (default root/report)."""
    return html.build_report(root, out, study_tables=study_tables)
