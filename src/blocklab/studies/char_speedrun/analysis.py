"""From results.json to the speedrun's numbers: the target loss, and each recipe's CPU seconds to reach it.

The target is the baseline's final validation loss, averaged over its seeds. A recipe's CPU seconds
to the target are read off its mean curve (clock.mean_curve over the seeds that finished without
diverging), so the baseline's own are its mean CPU seconds per run; each seed's are read off its
own curve as well, to show the spread (a seed may never reach the mean target: None).
"""
from __future__ import annotations

from dataclasses import dataclass

from blocklab.report.results import finished_runs

from .clock import cpu_to_reach, mean_curve

BASELINE, BEST = "baseline", "best"


@dataclass
class RecipeRun:
    """One cell's seeds, summarised."""

    name: str
    curves: list[list[dict]]  # one per seed that finished without diverging
    diverged_curves: list[list[dict]]  # one per seed that diverged: up to its last evaluation
    final_loss: list[float]
    cpu_per_run: list[float]
    to_target: float | None  # CPU seconds on the mean curve; None: never reached, or no target
    seeds_to_target: list[float | None]

    @property
    def diverged(self) -> int:
        return len(self.diverged_curves)

    @property
    def mean(self) -> list[dict]:
        return mean_curve(self.curves)


def target_loss(results: dict) -> float | None:
    """The baseline's final validation loss, averaged over its seeds that did not diverge."""
    losses = [r["metrics"]["val_loss"] for r in finished_runs(results, BASELINE) if r["status"] == "done"]
    return sum(losses) / len(losses) if losses else None


def recipe_runs(results: dict) -> dict[str, RecipeRun]:
    """Cell name -> its summary, for the cells with at least one finished seed (done or diverged), in cell order."""
    target = target_loss(results)
    out = {}
    for cell in results["cells"]:
        runs = finished_runs(results, cell["name"])
        if not runs:
            continue
        done = [r["metrics"] for r in runs if r["status"] == "done"]
        curves = [m["curve"] for m in done]
        reach = (lambda points: None) if target is None else (lambda points: cpu_to_reach(points, target))
        out[cell["name"]] = RecipeRun(
            name=cell["name"], curves=curves,
            diverged_curves=[r["metrics"]["curve"] for r in runs if r["status"] != "done"],
            final_loss=[m["val_loss"] for m in done], cpu_per_run=[m["cpu_seconds"] for m in done],
            to_target=reach(mean_curve(curves)) if curves else None, seeds_to_target=[reach(c) for c in curves])
    return out


def ratio(runs: dict[str, RecipeRun], name: str) -> float | None:
    """A recipe's CPU seconds to the target over the baseline's; None where either never reached it."""
    base, this = runs.get(BASELINE), runs.get(name)
    if base is None or this is None or base.to_target is None or this.to_target is None:
        return None
    return this.to_target / base.to_target
