"""The README's generated block, told what the registry knows: each registered study's claims and finding.

`readme_block(folder)` reads `folder/<study>/results.json` for every registered study (the layout `blocklab run all
--out results` writes), asks each study for its one-line finding (Study.finding) and builds the claims ledger of
those results; report.findings writes the block. `update_readme` puts it into the README between its markers.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import BlocklabError
from ..io import atomic_write_text
from ..report import findings
from ..report.claims import ledger
from ..report.results import RESULTS_FILE, load
from . import registry
from .registry import ALL, group_members, load_all


def rows(folder: str | Path, root: str | Path = ".") -> list[findings.Row]:
    """One row per registered study, in catalogue order; its results from folder/<study>/results.json if there, and
    its page docs/studies/<study>.md if `root` (the README's folder) has it."""
    load_all()
    out = []
    for name in group_members(ALL) or []:
        path = Path(folder) / name / RESULTS_FILE
        results = load(path) if path.is_file() else None
        study = registry.STUDIES[name]
        finding = findings.MISSING if results is None else study().finding(results)
        page = f"docs/studies/{name}.md"
        out.append(findings.Row(name, study.claims, results, finding, page if (Path(root) / page).is_file() else ""))
    return out


def readme_block(folder: str | Path, root: str | Path = ".") -> str:
    """The README's generated block for the results in `folder` (none there, or no folder: every row missing), its
    page links relative to `root`, the README's folder."""
    table = rows(folder, root)
    entries = ledger((r.study, r.results) for r in table if r.results is not None)
    return findings.block(table, entries)


def update_readme(folder: str | Path, readme: str | Path, check: bool = False) -> bool:
    """Rewrite the generated block of `readme` from `folder`'s results (with `check`, only compare); returns whether
    the block was already up to date. A README without the markers is refused, and nothing is written."""
    readme = Path(readme)
    if not readme.is_file():
        raise BlocklabError(f"{readme}: no such file; name the README whose results block to write")
    try:
        text = readme.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BlocklabError(f"{readme} is not UTF-8 text ({e.reason} at byte {e.start}); name the README") from None
    new = findings.replace_block(text, readme_block(folder, readme.parent), str(readme))
    if new != text and not check:
        atomic_write_text(readme, new)
    return new == text
