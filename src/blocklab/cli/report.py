"""`blocklab report`, `plot` and `readme`: the HTML site, the figures and the README's numbers, from results.json
files only."""
from __future__ import annotations

import sys

import click

from . import _studies
from ._options import InPath, OutPath


@click.command()
@click.argument("folder", default="runs", type=InPath(file_okay=False))
@click.option("--out", type=OutPath(folder=True), help="Where to write the site (default FOLDER/report).")
def report(folder: str, out: str | None) -> None:
    """Build the HTML report (index, claims ledger, a page per study) from every results.json in FOLDER.

    \b
    Examples:
      blocklab report runs
      blocklab report runs/tour --out site
    """
    from ..lab.report import build_report

    click.echo(build_report(folder, out))


@click.command()
@click.argument("folder", type=InPath(file_okay=False))
def plot(folder: str) -> None:
    """Redraw every figure from the results.json files in FOLDER, without retraining.

    \b
    Example:
      blocklab plot runs/skip-connections-quick
    """
    for path in _studies.runner().replot(folder):
        click.echo(f"redrew the figures of {path}")


@click.command()
@click.argument("folder", default="results", type=InPath(file_okay=False))
@click.option("--file", "readme", default="README.md", show_default=True, type=InPath(dir_okay=False),
              help="The README whose generated block (between its two results markers) to rewrite.")
@click.option("--check", is_flag=True, help="Only compare: exit 1 if the block differs from what FOLDER gives.")
def readme(folder: str, readme: str, check: bool) -> None:
    """Rewrite the README's results block from FOLDER/<study>/results.json: each study's one-line finding and
    seeds, the claims ledger's counts (with and without Holm's correction) and the commits the results came from.

    A study with no results.json in FOLDER reads "not in results/ yet". The block is the text between the lines
    `<!-- results: ... -->` and `<!-- end of results -->`; nothing else of the README changes.

    \b
    Examples:
      blocklab readme results
      blocklab readme results --check
    """
    from ..lab.readme import update_readme

    same = update_readme(folder, readme, check=check)
    if check and not same:
        click.echo(f"{readme}'s results block differs from what {folder} gives; run: blocklab readme {folder}")
        sys.exit(1)
    click.echo(f"{readme}'s results block is up to date with {folder}" if same else f"rewrote {readme}'s results block")
