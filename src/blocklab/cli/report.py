"""`blocklab report` and `blocklab plot`: the HTML site and the figures, from results.json files only."""
from __future__ import annotations

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
