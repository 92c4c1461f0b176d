"""Figure helpers: a band or error bar drawn over seeds stays inside the range of the metric it draws."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from blocklab.report import plots, stats

SRC = Path(__file__).parents[2] / "src" / "blocklab"
# three seeds of an accuracy that ends near 100: one dips, two touch the ceiling
NEAR_100 = [[97.0, 99.2, 100.0, 100.0], [99.5, 100.0, 98.6, 100.0], [98.1, 100.0, 100.0, 99.7]]


def drawn_band(ax) -> np.ndarray:
    """The y values of the band line_with_band shaded (its polygon's vertices)."""
    (band,) = ax.collections
    return np.concatenate([path.vertices[:, 1] for path in band.get_paths()])


def test_a_band_of_an_accuracy_near_100_over_3_seeds_never_exceeds_100():
    """WHAT: the shaded band, the error bars and the error-bar points of an accuracy near 100 over 3 seeds stay
    in [0, 100]. WHY: an interval from mean +- t s / sqrt(n) spills past 100 here (checked below); the band must
    stay within the metric's range whatever interval the helpers draw."""
    fig, ax = plots.figure()
    plots.line_with_band(ax, [1, 2, 3, 4], NEAR_100, scale=plots.ACCURACY)
    ys = drawn_band(ax)
    assert ys.max() <= 100.0 and ys.min() >= 0.0 and ys.max() > 99.0
    _, bars = plots.figure()
    plots.bars_with_ci(bars, ["a", "b"], [[99.0, 100.0, 100.0], [98.0, 100.0, 99.5]], scale=plots.ACCURACY)
    _, points = plots.figure()
    plots.points_with_ci(points, [1, 2, 3, 4], list(zip(*NEAR_100)), scale=plots.ACCURACY)
    for ax in (bars, points):
        (errorbars,) = [c for c in ax.containers if hasattr(c, "has_yerr")]
        tops = np.concatenate([seg[:, 1] for line in errorbars.lines[2] for seg in line.get_segments()])
        assert tops.max() <= 100.0 and tops.min() >= 0.0
    _, _, high = stats.curve_band(np.array(NEAR_100), plots.UNBOUNDED, method="t")
    assert high.max() > 100.0  # what an unclipped t interval would have drawn


def test_bands_within_a_range_keep_their_mean_and_leave_gaps_where_every_seed_diverged():
    fig, ax = plots.figure()
    plots.line_with_band(ax, None, [[0.5, 0.2, None], [0.7, 0.1, None]], scale=plots.LOSS)
    (line,) = ax.lines
    assert np.allclose(line.get_ydata()[:2], [0.6, 0.15]) and np.isnan(line.get_ydata()[2])
    assert drawn_band(ax).min() >= 0.0


def test_every_call_names_the_range_of_what_it_draws():
    """WHAT: each call of a band or error-bar helper in blocklab passes scale=, and only plots.py shades a band
    itself. WHY: one helper draws every band, and a band drawn without its metric's range could claim an accuracy
    above 100; the keyword is required, but code no test runs would only fail when a user draws the figure."""
    helpers = ("line_with_band", "bars_with_ci", "points_with_ci", "band")  # band: studies/common/drawing.py's
    unnamed, shading, calls = [], [], 0
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in helpers:
                calls += 1
                if not any(k.arg == "scale" for k in node.keywords):
                    unnamed.append(f"{path}:{node.lineno}")
            if name == "fill_between" and path.name != "plots.py":
                shading.append(f"{path}:{node.lineno}")
    assert calls > 50 and unnamed == [] and shading == []
