"""The speedrun's tables, from results.json only: the result against the goal, and every recipe."""
from __future__ import annotations

from statistics import mean

from blocklab.report.results import per_seed
from blocklab.report.tables import Table

from .analysis import BASELINE, BEST, RecipeRun, ratio, recipe_runs, target_loss
from .recipes import BY_NAME, Change, Recipe, changes_made

GOAL = 0.5  # the goal: the best recipe in at most half the baseline's CPU seconds


def speedrun_tables(results: dict) -> list[Table]:
    runs, target = recipe_runs(results), target_loss(results)
    if target is None or BASELINE not in runs:
        return []
    return [_result(runs, target), _recipes(results, runs)]


def _result(runs: dict[str, RecipeRun], target: float) -> Table:
    r = ratio(runs, BEST)
    best = runs.get(BEST)
    verdict = ("the best recipe has not run yet" if best is None else
               "the best recipe never reached it" if r is None else
               f"{r:.2f}x: the goal is {'met' if r <= GOAL else 'not met'}")
    rows = [["target: the baseline's final validation loss (mean over seeds)", round(target, 4)],
            ["baseline: CPU seconds to the target", _round(runs[BASELINE].to_target)],
            ["best: CPU seconds to the target", _round(best.to_target if best else None)],
            ["best / baseline", None if r is None else round(r, 3)],
            ["goal: best / baseline at most", GOAL]]
    return Table(f"Result: best / baseline CPU seconds to the baseline's loss = {verdict}", ["", "value"], rows,
                 note="CPU seconds are the training process's own (one thread), evaluations excluded, read where "
                      "each recipe's mean curve over seeds first reaches the target, linear between evaluations.")


def _recipes(results: dict, runs: dict[str, RecipeRun]) -> Table:
    config = results["config"]
    made = changes_made(Recipe.from_dict(config["best"]), Recipe.from_dict(config["baseline"]))
    rows = []
    for cell in results["cells"]:
        run = runs.get(cell["name"])
        if run is None or not run.curves:
            continue
        r = ratio(runs, run.name)
        reached = [t for t in run.seeds_to_target if t is not None]
        parameters = next(iter(per_seed(results, run.name, "parameters").values()))
        rows.append([run.name, _what(run.name, made), parameters,
                     f"{cell['params']['steps']} x {cell['params']['batch_size']}", round(mean(run.final_loss), 4),
                     round(mean(run.cpu_per_run), 1), _round(run.to_target), None if r is None else round(r, 3),
                     f"{len(reached)} of {len(run.curves) + run.diverged}"
                     + (f" ({run.diverged} diverged)" if run.diverged else "")])
    return Table("Every recipe: the baseline, the best, and the best without each change",
                 ["recipe", "what", "parameters", "steps x batch", "final val loss", "CPU s per run",
                  "CPU s to target", "/ baseline", "seeds reaching target"], rows,
                 note="Means over the seeds that did not diverge. A without-X row that needs more CPU seconds than "
                      "the best (or never reaches the target) is what change X buys; one that needs fewer is a "
                      "change that did not pay in this run.")


def _what(name: str, made: list[Change]) -> str:
    if name == BASELINE:
        return "nanoGPT's CPU recipe"
    if name == BEST:
        return "the baseline with " + ", ".join(c.name for c in made)
    change = BY_NAME.get(name.removeprefix("without-"))
    return f"best without {change.what}" if change else ""


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
