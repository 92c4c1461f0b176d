"""What the length-extrapolation study (study.py) makes of its results: the
helpers that read them, the extrapolation_results.json summary and the measured claims
(the figures are in figures.py). Everything here reads only the results
dict, so a rerun of a finished study remeasures without training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blocklab.io import atomic_write_text
from blocklab.report.results import diverged_note, dumps, finished_runs, per_seed, seed_values
from blocklab.report.stats import mean_ci
from blocklab.report.verdicts import Measurement, around, at_least
from blocklab.tasks.sequences import chance_accuracy


# ---------------------------------------------------------------------------- reading results
def chance_of(results: dict, task: str) -> float:
    """A guess's accuracy on `task`, from the config (a diverged run's metrics are null)."""
    return chance_accuracy(task, results["config"]["n_values"])


def label(params: dict) -> str:
    name = params["encoding"] + {"learned": " (clamp)", "none": " (causal mask)"}.get(params["encoding"], "")
    if params["arch"] == "encoder":
        name = f"{params['encoding']} (encoder, no mask)"
    return name + (", randomized" if params["randomized"] else "")


def task_cells(results: dict, task: str) -> list[dict]:
    """The cells of one task that have finished seeds."""
    return [c for c in results["cells"] if c["params"]["task"] == task and finished_runs(results, c["name"])]


def tasks(results: dict) -> list[str]:
    return list(dict.fromkeys(c["params"]["task"] for c in results["cells"]))


def lengths(results: dict, cell: str) -> list[int]:
    return sorted(map(int, finished_runs(results, cell)[0]["metrics"]["acc"]))


def beyond(results: dict, cell: str) -> list[int]:
    """Test lengths past training, up to 256: the range the seed tabulates (32-256)."""
    longest = max(results["config"]["train_lengths"])
    return [n for n in lengths(results, cell) if longest < n <= 256]


def cell_named(results: dict, task: str, encoding: str, arch: str = "gpt") -> str | None:
    for c in results["cells"]:
        p = c["params"]
        if (p["task"], p["encoding"], p["arch"], p["randomized"]) == (task, encoding, arch, False):
            return c["name"] if finished_runs(results, c["name"]) else None
    return None


# ---------------------------------------------------------------------------- the JSON summary
def write_extrapolation_json(results: dict, path: Path) -> None:
    """Accuracy by length per task and cell (mean, 95% CI, per seed), from results only."""
    summary = {"study": results["study"], "command": results["command"], "seeds": results["seeds"],
               "train_lengths": results["config"]["train_lengths"],
               "architecture": {"gpt": "causal GPT, answer read after the last real token",
                                "encoder": "encoder, no mask, mean pooling"},
               "tasks": {}}
    for task in tasks(results):
        entries = {}
        for c in task_cells(results, task):
            name, p = c["name"], c["params"]
            entry = {"label": label(p), **p, "chance": chance_of(results, task),
                     "in_distribution": mean_ci(seed_values(results, name, "in_dist_acc")).to_dict(),
                     "accuracy_by_length": {}}
            for n in lengths(results, name):
                values = seed_values(results, name, f"acc.{n}")
                entry["accuracy_by_length"][str(n)] = {**mean_ci(values).to_dict(), "per_seed": values}
            if p["encoding"] == "learned":
                policy = list(per_seed(results, name, "error_policy").values())[0]
                entry["error_policy"] = {n: (msg.split(";")[0] if msg else "ok") for n, msg in policy.items()}
            entries[name] = entry
        summary["tasks"][task] = entries
    atomic_write_text(path, dumps(summary))  # number lists on one line, as in results.json


# ---------------------------------------------------------------------------- claims
WHY_NONE = ("With no positions and no mask, attention and mean pooling are permutation-invariant: a row and its "
            "shuffles get the same logits, so sorted and unsorted rows cannot be told apart.")


def measure(results: dict) -> list[Measurement]:
    """C002-06's control part and C002-07. The causal-GPT parts of C002-05, C002-06 and C000-11 are
    measured once, over 10 seeds, by the length-generalization study's leaderboard: one owner per part."""
    out: list[Measurement] = []
    for task in tasks(results):
        out += _seed_002(results, task)
    return out


def _context(results: dict, cell: str) -> str:
    """Which model, trained on what, and how well it learned: the start of every note."""
    arch = list(per_seed(results, cell, "arch").values())[0]
    train = results["config"]["train_lengths"]
    fit_ = mean_ci(seed_values(results, cell, "in_dist_acc"))
    model = "causal GPT, answer read after the last token" if arch == "gpt" else "encoder, no mask, mean pooling"
    held_out = "n/a" if fit_.mean is None else f"{fit_.mean:.1f}%"  # None: every seed diverged
    return (f"{model}; trained on lengths {min(train)}-{max(train)}, held-out accuracy there "
            f"{held_out} (mean of {fit_.n} seeds){diverged_note(results, cell)}")


def _params(results: dict, cell: str) -> dict:
    return next(c["params"] for c in results["cells"] if c["name"] == cell)


def _seed_002(results: dict, task: str) -> list[Measurement]:
    """C002-06's "none stays at chance" on the model the source document argued about (no positions and
    no mask), and C002-07."""
    out = []
    cell = cell_named(results, task, "none", "encoder")
    if cell is not None:
        chance = chance_of(results, task)
        gap = seed_values(results, cell, "permutation_gap") if task == "sortedness" else []
        shuffle = f" Max |logit change| when the tokens are shuffled: {np.mean(gap):.2g}." if gap else ""
        out.append(Measurement("C002-06", "stays at chance", seed_values(results, cell, "in_dist_acc"), "%",
                               around(chance, 5), f"{task}, {label(_params(results, cell))}: at chance on the "
                               "training lengths", f"{_context(results, cell)}.{shuffle} {WHY_NONE}"))
    cell = cell_named(results, task, "learned")
    if cell is not None:
        score = ("structure score: mean cosine similarity of neighbouring rows of the position table after "
                 "removing the mean row; independent noise gives about -1/(rows-1), a smooth table near 1")
        out += [Measurement("C002-07", "untrained table looks like noise", seed_values(results, cell, "structure_init"),
                            "", around(0, 0.15), f"{task}, at initialization", score),
                Measurement("C002-07", "trained table shows structure", seed_values(results, cell, "structure_trained"),
                            "", at_least(0.3), f"{task}, trained", f"{score}; {_context(results, cell)}")]
    return out
