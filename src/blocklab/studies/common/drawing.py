"""Small figure helpers the studies share: log scales, seed bands, grids.

They read only a study's results dict, so `blocklab plot` can redraw without retraining.
"""
from __future__ import annotations

import math

import numpy as np

from blocklab.report import plots
from blocklab.report.results import seed_values


def log10(values) -> list:
    """log10 of nested lists of numbers; 0, negative and missing values become NaN."""
    if isinstance(values, (list, tuple)):
        return [log10(v) for v in values]
    return math.log10(values) if values is not None and values > 0 else math.nan


def mean_log10(rows: list[list[float]]) -> list[float]:
    """Per column, the mean of log10 over the rows where it is finite (NaN where none is)."""
    return plots.finite_mean(log10(rows), axis=0).tolist()  # (columns,)


def grid(nrows: int, ncols: int, **kw):
    """plots.figure with the axes always as an (nrows, ncols) array."""
    fig, axes = plots.figure(nrows, ncols, **kw)
    return fig, np.array(axes, dtype=object).reshape(nrows, ncols)


def band(ax, x, curves, label, color, dashed=False, *, scale) -> None:
    """plots.line_with_band over the seeds with a finite value, within `scale`. A cell that has runs but
    no finite value still gets a legend entry; one with no runs (not in this config) gets none."""
    if not curves:
        return
    curves = [c for c in curves if c and np.isfinite(np.asarray(c, dtype=float)).any()]
    if curves:
        plots.line_with_band(ax, x, curves, label=label, color=color, scale=scale)
    else:
        ax.plot([], [], label=f"{label}: nothing finite", color=color)
    ax.lines[-1].set_linestyle("--" if dashed else "-")


def tag(results: dict, cell: str, label: str) -> str:
    """`label`, plus how many of the cell's seeds diverged when any did."""
    flags = seed_values(results, cell, "diverged")
    hit = sum(v == 1 for v in flags)
    return f"{label} ({hit}/{len(flags)} diverged)" if hit else label
