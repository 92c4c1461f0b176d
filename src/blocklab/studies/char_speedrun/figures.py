"""The speedrun's figures, from results.json only: validation loss against CPU seconds for every
recipe, and the CPU seconds each takes to reach the baseline's final loss."""
from __future__ import annotations

import itertools

from blocklab.report import plots

from .analysis import BASELINE, BEST, RecipeRun, recipe_runs, target_loss

# The leave-one-out curves' colours: the baseline is black and the best red (C3) in both panels; none repeats
# for up to twelve changes.
OTHERS = ("C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9", "navy", "olive", "teal", "gold")


def speedrun_figures(results: dict, fig_dir) -> list[str]:
    runs, target = recipe_runs(results), target_loss(results)
    if not runs:
        return []
    names = [_curves(runs, target, fig_dir)]
    if target is not None and len(runs) > 2:
        names.append(_ablation(runs, fig_dir))
    return names


def _curves(runs: dict[str, RecipeRun], target: float | None, fig_dir) -> str:
    """Left: the baseline and the best over the whole run. Right: the best and each leave-one-out, near the target."""
    ablations = [r for n, r in runs.items() if n not in (BASELINE, BEST)]
    fig, axes = plots.figure(1, 2 if ablations else 1, width=6.5, height=4.2)
    panels = [(axes[0] if ablations else axes, [r for n, r in runs.items() if n in (BASELINE, BEST)], "whole runs")]
    if ablations:
        panels.append((axes[1], [runs[n] for n in (BEST,) if n in runs] + ablations, "leave-one-out, near the target"))
    others = itertools.cycle(OTHERS)
    colors = {n: "black" if n == BASELINE else "C3" if n == BEST else next(others) for n in runs}
    for ax, shown, title in panels:
        for run in shown:
            curves = run.curves + run.diverged_curves  # a diverged seed's curve stops at its last evaluation
            x = plots.finite_mean(plots.pad([[p["cpu_seconds"] for p in c] for c in curves]), axis=0)
            label = run.name + (f" ({run.diverged} diverged)" if run.diverged else "")
            plots.line_with_band(ax, x, [[p["val_loss"] for p in c] for c in curves], label=label,
                                 color=colors[run.name], scale=plots.LOSS)
            if run.to_target is not None:  # where the mean curve reaches the target
                ax.plot([run.to_target], [target], "o", color=ax.lines[-1].get_color(), markersize=4)
        if target is not None:
            ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"baseline's final: {target:.3f}")
        ax.set_xlabel("training CPU seconds (one thread, evaluations excluded)")
        ax.set_ylabel("validation loss (nats per character)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    if ablations and target is not None:
        axes[1].set_ylim(target - 0.15, target + 0.35)
    return plots.save(fig, fig_dir, "char_speedrun_curves.png")


def _ablation(runs: dict[str, RecipeRun], fig_dir) -> str:
    shown = [r for r in runs.values() if r.name != BASELINE]
    fig, ax = plots.figure(width=7, height=4)
    reached = [[t for t in r.seeds_to_target if t is not None] for r in shown]
    plots.bars_with_ci(ax, [r.name for r in shown], reached, scale=plots.NONNEGATIVE)
    for i, times in enumerate(reached):
        if not times:
            ax.text(i, 5, "never reached", rotation=90, ha="center", va="bottom", fontsize=8)
    baseline = runs[BASELINE].to_target
    if baseline is not None:
        ax.axhline(baseline, color="black", linewidth=1, label="baseline")
        ax.axhline(baseline / 2, color="gray", linestyle="--", linewidth=1, label="goal: half the baseline's")
        ax.legend(fontsize=7)
    ax.set_ylabel("CPU seconds to the baseline's final loss")
    return plots.save(fig, fig_dir, "char_speedrun_ablation.png")
