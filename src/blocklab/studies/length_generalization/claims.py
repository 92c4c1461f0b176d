"""The claims the length-generalization leaderboard measures (C002-05, C002-06, C000-11),
from the results dict only, so a rerun remeasures without training."""
from __future__ import annotations

import numpy as np

from blocklab.report.results import seed_values
from blocklab.report.scales import PERCENT
from blocklab.report.verdicts import Measurement, around, at_least, at_most
from blocklab.tasks.sequences import chance_accuracy

from .tables import points, task_cells

ANCHORS = ("Anchors: Press et al. 2022 (ALiBi trains short and tests long); Kazemnejad et al. 2023 (no positions "
           "in a causal decoder generalizes better than absolute or rotary ones).")
NONE_NOTE = ("'none' is a causal GPT without positions: the mask alone tells a token what came before it, enough "
             "for both tasks, so the source document's 'stays at chance' (argued for an unmasked model) is tested "
             "on the training lengths.")


def measure(results: dict) -> list[Measurement]:
    out: list[Measurement] = []
    for task in ("sortedness", "first-vs-last"):
        out += _seed_002(results, task)
    out += _seed_000(results)
    return out


def _cell(results: dict, task: str, encoding: str) -> str | None:
    return next((c["name"] for c in task_cells(results, task) if c["params"]["encoding"] == encoding), None)


def _mean_over(results: dict, cell: str, lengths: list[int]) -> list[float]:
    """Per seed, the mean accuracy over `lengths`."""
    return np.array([seed_values(results, cell, f"acc.{n}") for n in lengths]).mean(axis=0).tolist()


def _chance(results: dict, task: str) -> float:
    return chance_accuracy(task, results["config"]["n_values"])


def _seed_002(results: dict, task: str) -> list[Measurement]:
    """C002-05 (sortedness) and C002-06 (both tasks) over the test lengths past training, up to 256."""
    out = []
    longest = max(results["config"]["train_lengths"])
    for enc in ("sinusoidal", "learned", "none"):
        cell = _cell(results, task, enc)
        if cell is None:
            continue
        past = [n for n in points(results, cell) if longest < n <= 256]
        inside = [n for n in points(results, cell) if n <= longest]
        if not past:
            continue
        values, level = _mean_over(results, cell, past), _chance(results, task)
        note = (f"causal GPT trained on lengths {min(results['config']['train_lengths'])}-{longest}; mean accuracy "
                f"over test lengths {min(past)}-{max(past)}. {ANCHORS}")
        part = f"{task}, {enc}"
        if task == "sortedness":
            out.append(Measurement("C002-05", "~50% (45-55%) at 32-256", values, "%", around(50, 5), part, note,
                                   scale=PERCENT))
        if enc == "sinusoidal":
            out.append(Measurement("C002-06", "extrapolates: high accuracy at 32-256", values, "%", at_least(90),
                                   part, note, scale=PERCENT))
        elif enc == "learned":
            out.append(Measurement("C002-06", "fails past the training length (~chance)", values, "%",
                                   at_most(level + 10), part, f"{note} The table covers every test position; "
                                   "rows past the training lengths are never trained.", scale=PERCENT))
        elif inside:
            out.append(Measurement("C002-06", "stays at chance", _mean_over(results, cell, inside), "%",
                                   around(level, 5), f"{part}: at the training lengths",
                                   f"mean accuracy at test lengths {', '.join(map(str, inside))}. {NONE_NOTE}",
                                   scale=PERCENT))
    return out


def _seed_000(results: dict) -> list[Measurement]:
    """C000-11 on first-vs-last at retrieval_far tokens (1000 by default)."""
    out = []
    longest, far = max(results["config"]["train_lengths"]), results["config"]["retrieval_far"]
    if not far:
        return out  # the run skipped the far length
    for enc, works in (("sinusoidal", True), ("alibi", True), ("learned", False)):
        cell = _cell(results, "first-vs-last", enc)
        if cell is None:
            continue
        rule = at_least(90) if works else at_most(_chance(results, "first-vs-last") + 10)
        out.append(Measurement(
            "C000-11", "works at 1000" if works else "fails", seed_values(results, cell, f"acc.{far}"), "%", rule,
            f"first-vs-last, {enc}, length {far}",
            f"causal GPT trained on lengths 8-{longest}; the source document trained at 100 and tested up to 10x; "
            f"{far} is {far / longest:.0f}x the longest input here. 'Works' read as >= 90%, 'fails' as at most "
            f"chance + 10 points. {ANCHORS}", scale=PERCENT))
    return out
