"""The leaderboard of the length-generalization study: one table per task, an encoding per row,
the mean accuracy and its 95% interval over seeds at every test length, and the training cost.
Read from the results dict only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blocklab.report.results import diverged_note, finished_runs, seed_values
from blocklab.report.scales import NONNEGATIVE, PERCENT
from blocklab.report.stats import Interval, mean_ci
from blocklab.report.tables import Table

TRAINED_ON = {"sortedness": "lengths 8-16", "first-vs-last": "lengths 8-16", "addition": "1-10 digit operands"}


def task_cells(results: dict, task: str) -> list[dict]:
    """The cells of one task with finished seeds, in grid order."""
    return [c for c in results["cells"] if c["params"]["task"] == task and finished_runs(results, c["name"])]


def tasks(results: dict) -> list[str]:
    return list(dict.fromkeys(c["params"]["task"] for c in results["cells"]))


def points(results: dict, cell: str) -> list[int]:
    """Test lengths (or digits) a cell was measured at, ascending."""
    return sorted(map(int, finished_runs(results, cell)[0]["metrics"]["acc"]))


def accuracy(results: dict, cell: str, point: int) -> Interval:
    return mean_ci(seed_values(results, cell, f"acc.{point}"), PERCENT)


def show(ci: Interval) -> str:
    if ci.mean is None:
        return "-"
    if ci.low is None:
        return f"{ci.mean:.1f}"
    return f"{ci.mean:.1f} [{ci.low:.1f}, {ci.high:.1f}]"


FIT = {"addition": "answer digits right, teacher forced, on held-out 1-10 digit problems",
       "sortedness": "accuracy on held-out rows of the training lengths",
       "first-vs-last": "accuracy on held-out rows of the training lengths"}


def fit(results: dict, cell: str) -> str:
    """Mean over seeds of the last validation score (%): how well the model fit its training lengths;
    '-' when every seed diverged."""
    mean = mean_ci(seed_values(results, cell, "final_val_acc"), PERCENT).mean
    return "-" if mean is None else f"{mean:.1f}"


def leaderboards(results: dict) -> list[Table]:
    out = []
    for task in tasks(results):
        cells = task_cells(results, task)
        if not cells:
            continue
        unit = "digits" if task == "addition" else "tokens"
        xs = points(results, cells[0]["name"])
        rows = []
        for c in cells:
            cost = mean_ci(seed_values(results, c["name"], "train_cpu_s"), NONNEGATIVE)
            rows.append([c["params"]["encoding"] + diverged_note(results, c["name"]),
                         *(show(accuracy(results, c["name"], x)) for x in xs),
                         fit(results, c["name"]), "-" if cost.mean is None else round(cost.mean, 1),
                         len(finished_runs(results, c["name"]))])
        metric = "exact match of the greedy answer" if task == "addition" else "accuracy"
        out.append(Table(f"Leaderboard: {task} (trained on {TRAINED_ON[task]})",
                         ["encoding", *(f"{x} {unit}" for x in xs), "fit %", "train CPU s", "seeds"], rows,
                         f"{metric} (%), mean [95% interval] over seeds; fit: {FIT[task]} at the end of training, "
                         "mean over seeds; train CPU s: process time of training (all threads), mean over seeds. "
                         "A diverged seed's values are left out of the means; '-': no seed has a value."))
    return out


@dataclass(frozen=True)
class Goal:
    """Issue 17's bar for one task at its longest test point: some encoding's mean >= target and,
    when low is set, its interval's lower end >= low."""
    task: str
    target: float
    low: float | None = None
    stretch: float | None = None

    def text(self, point: int) -> str:
        unit = "digits" if self.task == "addition" else "tokens"
        bar = f"mean >= {self.target:g}%" + (f", interval low >= {self.low:g}%" if self.low is not None else "")
        return f"{self.task} at {point} {unit}: {bar}" + (f" (stretch {self.stretch:g}%)" if self.stretch else "")

    def shortfall(self, ci: Interval) -> list[str]:
        """What the interval lacks, in points; empty when the goal is met."""
        if ci.mean is None:
            return ["no seed finished"]
        out = [f"mean {self.target - ci.mean:.1f} points short"] if ci.mean < self.target else []
        if self.low is not None:
            if ci.low is None:
                out.append("no interval (one seed)")
            elif ci.low < self.low:
                out.append(f"interval low {self.low - ci.low:.1f} points short")
        return out


GOALS = (Goal("sortedness", 99.0, low=97.0), Goal("addition", 95.0, stretch=99.0))


def goals(results: dict) -> Table | None:
    """One row per goal: the best encoding at the longest test point, whether it meets the goal or by
    how much it misses, and every encoding tried there with its mean."""
    rows = []
    for goal in GOALS:
        cells = task_cells(results, goal.task)
        if not cells:
            continue
        point = max(points(results, cells[0]["name"]))
        # A cell whose every seed diverged has no mean: it ranks last. Ties at the longest point (all at 0%
        # or 100%) go to the better mean over every test point.
        def rank(ci: Interval) -> float:
            return -1.0 if ci.mean is None else ci.mean
        overall = {c["name"]: np.mean([rank(accuracy(results, c["name"], x)) for x in points(results, c["name"])])
                   for c in cells}
        scored = sorted(((accuracy(results, c["name"], point), c["params"]["encoding"], overall[c["name"]])
                         for c in cells), key=lambda s: (-rank(s[0]), -s[2]))
        best, name, _ = scored[0]
        missing = goal.shortfall(best)
        tried = ", ".join(f"{enc} {'-' if ci.mean is None else f'{ci.mean:.1f}'}" for ci, enc, _ in scored)
        fitted = fit(results, next(c["name"] for c in cells if c["params"]["encoding"] == name))
        rows.append([goal.text(point), name, show(best), fitted,
                     "no: " + "; ".join(missing) if missing else "yes", tried])
    if not rows:
        return None
    cfg = results["config"]
    return Table("Goals (issue 17)", ["goal", "best encoding", "its score", "its fit %", "met",
                                      "every encoding tried (mean)"],
                 rows, f"mean [95% interval] over seeds ({len(results['seeds'])}); fit: the score at the training "
                       f"lengths (see the leaderboards). Tried: sortedness and first-vs-last "
                       f"with width {cfg['width']}, layers {cfg['layers']}, {cfg['train']['steps']} and "
                       f"{cfg['retrieval_train']['steps']} steps; "
                       f"addition with width {cfg['addition_width']}, layers {cfg['addition_layers']}, "
                       f"{cfg['addition_train']['steps']} steps, digit offsets up to {cfg['addition_offset_max']}.")
