"""Shared figure helpers, so that every study's figures look alike and show their seeds.

Figures are `matplotlib.figure.Figure` objects rendered by Agg: no pyplot state, no
window, nothing that needs a display, and nothing leaks between figures. Every helper
that draws a number over seeds draws its 95% interval too (see stats.py), inside the
range of the metric it draws: each call names that range (`scale=`, see scales.py;
the common ones are here as plots.ACCURACY, plots.LOSS, ...), so no band or error bar
claims an accuracy above 100 or a negative loss.

    fig, ax = plots.figure()
    plots.line_with_band(ax, steps, loss_curves_per_seed, label="residual", scale=plots.LOSS)
    plots.save(fig, fig_dir, "45_skip_connections_training.png")
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: studies that do get a headless backend

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..io import atomic_write_bytes  # noqa: E402
from .results import as_floats, finite  # noqa: E402,F401  (re-exported: figures read them here)
from .scales import ACCURACY, COSINE, FRACTION, LOSS, NONNEGATIVE, PERCENT, UNBOUNDED, Scale  # noqa: E402,F401
from .stats import curve_band, mean_ci  # noqa: E402

DPI = 120


def figure(nrows: int = 1, ncols: int = 1, width: float = 5.5, height: float = 3.8, **subplot_kw):
    """A new figure and its axes (one Axes, or an array for a grid), in blocklab's style."""
    fig = Figure(figsize=(width * ncols, height * nrows), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw)
    for ax in np.atleast_1d(axes).ravel():
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(alpha=0.3, linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes


def save(fig: Figure, fig_dir: str | Path, name: str) -> str:
    """Write `fig` as fig_dir/name (a .png), atomically; returns `name` for figures()' list."""
    if not name.endswith(".png") or "/" in name:
        raise ValueError(f"figure name {name!r} must be a plain file name ending in .png")
    for ax in fig.axes:
        _linear_if_nothing_positive(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    atomic_write_bytes(Path(fig_dir) / name, buf.getvalue())
    return name


def _linear_if_nothing_positive(ax) -> None:
    """A log axis over no positive finite value (every seed diverged, its values null) cannot be drawn:
    make it linear."""
    for name, (low, high) in (("x", ax.dataLim.intervalx), ("y", ax.dataLim.intervaly)):
        if getattr(ax, f"get_{name}scale")() == "log" and not (np.isfinite(high) and high > 0):
            getattr(ax, f"set_{name}scale")("linear")


def finite_mean(rows, axis: int | None = None) -> np.ndarray | float:
    """The mean of nested metric values over the finite ones only (along `axis`), NaN where none is finite:
    a diverged seed's nulls are left out of the mean instead of poisoning it (or raising, as np.mean on None does).
    Say how many were left out where the mean is shown (see `left_out`)."""
    a = as_floats(rows)
    ok = np.isfinite(a)
    total = np.where(ok, a, 0.0).sum(axis=axis)
    count = ok.sum(axis=axis)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return float(mean) if axis is None else mean


def left_out(values) -> int:
    """How many entries of `values` (one per seed; each a number or nested lists) hold a non-finite value."""
    return sum(not np.isfinite(as_floats(v)).all() for v in values)


def pad(curves: Sequence[Sequence[float | None]]) -> np.ndarray:
    """Per-seed curves of unequal length (a diverged or early-stopped seed) as a NaN-padded array."""
    length = max((len(c) for c in curves), default=0)
    out = np.full((len(curves), length), np.nan)
    for i, curve in enumerate(curves):
        out[i, : len(curve)] = [np.nan if v is None else v for v in curve]
    return out


def line_with_band(ax, x: Sequence[float] | None, curves: Sequence[Sequence[float | None]], label: str | None = None,
                   color: str | None = None, *, scale: Scale) -> None:
    """Mean over seeds as a line, its pointwise 95% interval within `scale` as a shaded band; curves: one per seed."""
    mean, low, high = curve_band(pad(curves), scale)
    xs = np.arange(mean.size) if x is None else np.asarray(x, dtype=float)[: mean.size]
    (line,) = ax.plot(xs, mean, label=label, color=color, linewidth=1.6)
    ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def bars_with_ci(ax, labels: Sequence[str], values: Sequence[Sequence[float]], color: str | None = None, *,
                 scale: Scale) -> None:
    """One bar per label at the mean over seeds, a 95% interval error bar within `scale`, and each seed as a dot."""
    xs = np.arange(len(labels))
    means, err = means_and_errors(values, scale)
    ax.bar(xs, means, yerr=err, capsize=4, color=color or "C0", alpha=0.8)
    for x, seeds in zip(xs, values):
        shown = [v for v in seeds if v is not None and np.isfinite(v)]
        ax.plot([x] * len(shown), shown, "o", color="black", markersize=3, alpha=0.7)
    tilt = max(map(len, labels), default=0) > 8  # long labels would overlap
    ax.set_xticks(xs, labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")


def points_with_ci(ax, x: Sequence[float], values: Sequence[Sequence[float | None]], label: str | None = None, *,
                   scale: Scale) -> None:
    """The mean over seeds at each x, marked and joined, with its 95% interval within `scale` as an error bar;
    values: at each x, one value per seed."""
    means, err = means_and_errors(values, scale)
    ax.errorbar(np.asarray(x, dtype=float), means, yerr=err, marker="o", markersize=3, capsize=2, linewidth=1.4,
                label=label)


def means_and_errors(values: Sequence[Sequence[float | None]], scale: Scale) -> tuple[np.ndarray, np.ndarray]:
    """For each group of seed values, the mean (NaN if none is finite) and the distances (2, groups) from it down
    and up to its 95% interval within `scale` (0 where there is no interval): what errorbar's yerr takes."""
    intervals = [mean_ci(v, scale) for v in values]
    means = np.array([np.nan if i.mean is None else i.mean for i in intervals])
    err = np.array([[0.0, 0.0] if i.low is None else [i.mean - i.low, i.high - i.mean] for i in intervals])
    return means, err.reshape(-1, 2).T


def heatmap(ax, matrix: Sequence[Sequence[float]], row_labels: Sequence[str], col_labels: Sequence[str],
            fmt: str = "{:.3g}", cmap: str = "viridis", colorbar: bool = True) -> None:
    """A labelled matrix with each value written in its cell (NaN shows as blank)."""
    data = np.asarray(matrix, dtype=float)
    image = ax.imshow(data, cmap=cmap, aspect="auto")
    tilt = len(col_labels) > 4
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.grid(False)
    shown = data[np.isfinite(data)]
    middle = (shown.min() + shown.max()) / 2 if shown.size else 0.0
    for (i, j), v in np.ndenumerate(data):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="black" if v > middle else "white")
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
