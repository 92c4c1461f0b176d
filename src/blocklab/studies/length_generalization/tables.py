"""The leaderboard of the length-generalization study: one table per task, an encoding per row,
the mean accuracy and its 95% interval over seeds at every test length, and the training cost.
Read from the results dict only."""
from __future__ import annotations

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
                         *(show(accuracy(results, c["name"], x)) for x in xs), show(cost),
                         len(finished_runs(results, c["name"]))])
        metric = "exact match of the greedy answer" if task == "addition" else "accuracy"
        out.append(Table(f"Leaderboard: {task} (trained on {TRAINED_ON[task]})",
                         ["encoding", *(f"{x} {unit}" for x in xs), "train CPU s", "seeds"], rows,
                         f"{metric} (%), mean [95% interval] over seeds; train CPU s: process time of training "
                         "(all threads), mean over seeds. A diverged seed's values are left out of the means; "
                         "'-': no seed has a value."))
    return out
