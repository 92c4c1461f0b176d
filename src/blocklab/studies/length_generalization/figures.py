"""The figure of the length-generalization study: accuracy against test length, a panel per
task, drawn from the results dict only (so `blocklab plot` redraws it without training)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blocklab.report import plots
from blocklab.report.results import as_floats, diverged_note

from .tables import TRAINED_ON, accuracy, points, task_cells, tasks


def accuracy_by_length(results: dict, fig_dir: Path) -> str:
    names = [t for t in tasks(results) if task_cells(results, t)]
    fig, axes = plots.figure(1, len(names), width=5.5, height=4.2)
    for ax, task in zip(np.atleast_1d(axes), names):
        cells = task_cells(results, task)
        for i, c in enumerate(cells):
            xs = np.array(points(results, c["name"]))
            cis = [accuracy(results, c["name"], x) for x in xs]
            mean = as_floats([v.mean for v in cis])  # NaN (not drawn) where no seed has a finite value
            err = np.array([[0, 0] if v.low is None else [v.mean - v.low, v.high - v.mean] for v in cis]).T
            shift = 2 ** (0.04 * (i - (len(cells) - 1) / 2))  # side by side, so error bars do not hide each other
            ax.errorbar(xs * shift, mean, yerr=np.clip(err, 0, None), marker="o", markersize=3, capsize=2,
                        linewidth=1.3, label=c["params"]["encoding"] + diverged_note(results, c["name"]))
        ax.set_xscale("log", base=2)
        ticks = points(results, cells[0]["name"])
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.minorticks_off()
        ax.set_xlabel("operand digits" if task == "addition" else "test length (tokens)")
        ax.set_ylabel(f"{'exact match' if task == 'addition' else 'accuracy'} (%), mean and 95% CI")
        ax.set_ylim(-2, 105)
        ax.set_title(f"{task}: trained on {TRAINED_ON[task]}", fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    return plots.save(fig, fig_dir, "length_generalization.png")
