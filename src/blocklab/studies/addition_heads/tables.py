"""The addition-heads study's tables on its report page (study.py): the decodings,
accuracy by number of carries, the error cascade, the heads and the first mistakes.

Like the figures (figures.py) they read only the results dict. Numbers are the
mean [95% t-interval] over the finished seeds of a cell; a cell with no finished run is left
out, and a quantity some runs lack (a run that never reached 99%) says how many lack it
instead of counting them as zero.
"""
from __future__ import annotations

import numpy as np

from blocklab.report.results import config_value, finished_runs, per_seed
from blocklab.report.stats import mean_ci
from blocklab.report.tables import Table
from blocklab.tasks.addition import ANSWER_LEN

from . import every_problem
from .analysis import (
    PRUNABLE,
    UNDER_TRAINED,
    checkpoint_state,
    cpu_to_99,
    drops,
    final_state,
    head_cells,
    prunable,
    trained_cells,
    under_trained,
    wrong_again,
)

METHODS = ("zero", "mean")
SEED_TOKEN_ACC = 99.85  # the seed's teacher-forced token accuracy, against its 34.9% greedy exact match


def all_tables(results: dict) -> list[Table]:
    if not trained_cells(results):
        return []
    out = [decodings(results), by_carries(results), cascade(results)]
    if head_cells(results):
        out += [heads_alone(results), heads_removable(results)]
    return out + [first_mistakes(results)] + every_problem.tables(results)


# ---------------------------------------------------------------------------- formatting
def summary(values) -> str:
    """'mean [low, high]' of the finite values (None counts as missing), the mean alone for
    one value, '—' for none."""
    return mean_ci([float("nan") if v is None else v for v in values]).text()


def listed(values) -> str:
    return ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)


def of_runs(values: list, n: int, missing: str) -> str:
    """summary() of the values that exist, saying how many of the n runs have none and why."""
    present = [v for v in values if v is not None]
    text = summary(present)
    return text if len(present) == n else f"{text} (n={len(present)}; {n - len(present)} {missing})"


# ---------------------------------------------------------------------------- decodings
def steps_to_99_text(ms: list[dict]) -> str:
    return of_runs([m["steps_to_99"] for m in ms], len(ms), "never reached 99%")


def cpu_to_99_text(ms: list[dict]) -> str:
    """cpu_to_99 is None for a run that never reached 99% and for one that resumed (its CPU
    time before the interrupt is lost); both are counted, neither is averaged as zero."""
    text = summary(cpu_to_99(m) for m in ms)
    never = sum(m["steps_to_99"] is None for m in ms)
    resumed = sum(m["steps_to_99"] is not None and m["resumed"] for m in ms)
    why = [f"{never} never reached 99%"] * bool(never) + [f"{resumed} resumed, CPU time partial"] * bool(resumed)
    return text if not why else f"{text} (n={len(ms) - never - resumed}; {'; '.join(why)})"


def decodings(results: dict) -> Table:
    cells = trained_cells(results)
    ms = {c: list(per_seed(results, c).values()) for c in cells}
    tests = {c: [m["test"] for m in ms[c]] for c in cells}
    beams = list(dict.fromkeys(k for t in tests.values() for k in t[0]["beam_em"]))

    def row(what: str, value) -> list:
        return [what, *(value(c) for c in cells)]

    def mean_of(key: str):
        return lambda c: summary(x[key] for x in tests[c])

    rows = [row("seeds finished", lambda c: len(tests[c])),
            row("parameters", lambda c: ms[c][0]["params"]),
            row("teacher-forced token accuracy (%)", mean_of("tf_token_acc")),
            row("teacher-forced exact match (%)", mean_of("tf_em")),
            row("greedy exact match (%)", mean_of("greedy_em")),
            *(row(f"beam {k} exact match (%)", lambda c, k=k: summary(x["beam_em"].get(k) for x in tests[c]))
              for k in beams),
            row("greedy / teacher-forced disagreements (problems, per seed)",
                lambda c: listed(x["greedy_tf_disagree"] for x in tests[c])),
            row("steps to 99% greedy exact match (validation)", lambda c: steps_to_99_text(ms[c])),
            row("training CPU seconds", lambda c: of_runs([None if m["resumed"] else m["train_cpu_seconds"]
                                                           for m in ms[c]], len(ms[c]), "resumed, CPU time partial")),
            row("CPU seconds to 99%", lambda c: cpu_to_99_text(ms[c]))]
    cfg, every = results["config"], config_value(results, "train.eval_every")
    note = (f"Mean [95% CI] over seeds on the {cfg['n_test']:,} held-out problems (the same for every cell and "
            f"seed). Steps to 99%: the first evaluation (every {every} steps) at which greedy exact "
            f"match on the {cfg['n_val']:,} validation problems reached 99%. CPU seconds to 99% = training CPU "
            f"seconds x steps to 99% / steps done (evaluations included, pro rata). A run that never reached 99%, "
            f"or that resumed after an interrupt (its CPU time before it is not recorded), is counted beside the "
            f"mean, not averaged.")
    return Table("Decodings per cell: teacher forcing, greedy, beam, and the time to 99%", ["quantity", *cells],
                 rows, note)


def by_carries(results: dict) -> Table:
    cells = trained_cells(results)
    tests = {c: [m["test"] for m in list(per_seed(results, c).values())] for c in cells}
    rows = []
    for k in map(str, range(4)):
        counts = {x["by_carries"][k]["n"] for t in tests.values() for x in t}
        rows.append([int(k), listed(sorted(counts)),
                     *(summary(x["by_carries"][k]["greedy_em"] for x in tests[c]) for c in cells)])
    return Table("Greedy exact match (%) by number of carries", ["carries", "problems", *cells], rows,
                 "Mean [95% CI] over seeds on the held-out problems with that many carries (units, tens, hundreds "
                 "columns); 'problems' counts them.")


# ---------------------------------------------------------------------------- the cascade
def wrong_again_text(states: list[dict], which: int) -> str:
    """wrong_again's greedy (0) or teacher-forced (1) share over the seeds that failed any."""
    if states and all(s["greedy"] >= 100 for s in states):
        return "no failed problems"
    return summary(wrong_again(states)[which])


def cascade_row(cell: str, label: str, states: list[dict]) -> list:
    return [cell, label, len(states), summary(s["token"] for s in states), summary(s["greedy"] for s in states),
            summary(100 - ANSWER_LEN * (100 - s["token"]) for s in states),
            *(summary(s["first"][p] for s in states) for p in range(ANSWER_LEN)),
            wrong_again_text(states, 0), wrong_again_text(states, 1)]


def cascade(results: dict) -> Table:
    rows, disagree = [], 0
    for cell in trained_cells(results):
        ms = list(per_seed(results, cell).values())
        disagree += sum(m["test"]["greedy_tf_disagree"] for m in ms)
        rows.append(cascade_row(cell, "final model, held-out", [final_state(m["test"]) for m in ms]))
        points = [under_trained(m) for m in ms]
        found = [p for p in points if p is not None]
        label = f"under-trained, validation (steps {listed(p['step'] for p in found)})" if found else "under-trained"
        if len(found) < len(ms):
            label += (f"; {len(ms) - len(found)} of {len(ms)} seeds have no evaluation at >= {UNDER_TRAINED:.0%} "
                      f"tokens with greedy < 99%")
        rows.append(cascade_row(cell, label, [checkpoint_state(p) for p in found]))
    headers = ["cell", "model", "seeds", "token accuracy (%)", "greedy exact match (%)",
               "bound: 100 - 4 x token error", *(f"first wrong digit at {p + 1} (%)" for p in range(ANSWER_LEN)),
               "failed, wrong again later: greedy, own prefix (%)",
               "failed, wrong again later: teacher-forced, true prefix (%)"]
    note = (f"Greedy's first wrong digit by answer position (generation order), as a share of all problems; "
            f"they sum to 100 - greedy exact match. 'Wrong again later': of the problems greedy fails, the share "
            f"with another wrong digit after its first one, greedy continuing from its own prefix, and teacher "
            f"forcing given the true prefix; mean over the seeds that failed any. The under-trained checkpoint is "
            f"each seed's first evaluation with validation token accuracy >= {UNDER_TRAINED:.0%} and greedy exact "
            f"match < 99%. Greedy and teacher-forced exact match count the same problems ({disagree} disagreements "
            f"over every cell and seed), so a cascade changes which later digits are wrong, never whether a problem "
            f"is solved: exact match stays >= 100 - 4 x (100 - token accuracy), and the "
            f"source document's {SEED_TOKEN_ACC}% token accuracy allows no less than "
            f"{100 - ANSWER_LEN * (100 - SEED_TOKEN_ACC):.1f}%, not 34.9%.")
    return Table("The error cascade: where greedy first goes wrong, and what follows", headers, rows, note)


# ---------------------------------------------------------------------------- heads
def heads_alone(results: dict) -> Table:
    rows = []
    for cell in head_cells(results):
        ms = list(per_seed(results, cell).values())
        per_method = {meth: [drops(m, meth) for m in ms] for meth in METHODS}
        for i, name in enumerate(ms[0]["heads"]["names"]):
            rows.append([cell, name, *(part for meth in METHODS for part in (
                float(np.mean([d[i] for d in per_method[meth]])), listed(float(d[i]) for d in per_method[meth])))])
    return Table("Heads ablated one at a time: greedy exact match lost (points)",
                 ["cell", "head", "zero ablation, mean", "zero, per seed", "mean ablation, mean", "mean, per seed"],
                 rows, "Held-out greedy exact match of the model minus that with the head alone ablated (zero: its "
                       "output set to 0; mean: replaced by its mean over the validation problems). Mean over seeds "
                       "and each seed's value, no interval: a head's index within its module means nothing across "
                       "trainings, so the spread over seeds is not that of one quantity.")


def jointly_prunable(m: dict) -> tuple[int, float]:
    """The most heads the greedy pruning order removes (zero ablation) with held-out accuracy
    still >= PRUNABLE x baseline, and that accuracy."""
    base = m["heads"]["baseline"]["em"]
    kept = [s for s in m["heads"]["pruning"] if s["em"] >= PRUNABLE * base]
    step = max(kept, key=lambda s: s["removed"], default={"removed": 0, "em": base})
    return step["removed"], step["em"]


def heads_removable(results: dict) -> Table:
    rows = []
    for cell in head_cells(results):
        ms = list(per_seed(results, cell).values())
        joint = [jointly_prunable(m) for m in ms]
        rows.append([cell, len(ms[0]["heads"]["names"]), summary(m["heads"]["baseline"]["em"] for m in ms),
                     *(f"{summary(prunable(m, meth) for m in ms)} ({listed(prunable(m, meth) for m in ms)})"
                       for meth in METHODS),
                     f"{summary(k for k, _ in joint)} ({listed(k for k, _ in joint)})",
                     summary(em for _, em in joint)])
    return Table("Heads that can go: alone and jointly",
                 ["cell", "heads", "baseline greedy exact match (%)", "prunable alone, zero ablation",
                  "prunable alone, mean ablation", "removed jointly, keeping >= 99%", "exact match so pruned (%)"],
                 rows, f"Mean [95% CI] over seeds (each seed's count in parentheses). Prunable alone: the "
                       f"source document's criterion, held-out accuracy with the head ablated >= {PRUNABLE} x "
                       f"baseline (a drop under 1% of it). Jointly: heads removed one by one (zero ablation), each "
                       f"time the one whose removal keeps the most validation problems solved; the largest number "
                       f"whose jointly pruned model keeps >= {PRUNABLE} x baseline on the held-out problems.")


# ---------------------------------------------------------------------------- first mistakes
def first_mistakes(results: dict) -> Table:
    rows = []
    for cell in trained_cells(results):
        first = finished_runs(results, cell)[0]
        lines = first["metrics"]["mistakes"] or ["no mistakes on the held-out set"]
        rows += [[cell, first["seed"], line] for line in lines]
    return Table("First mistakes of greedy decoding", ["cell", "seed", "problem: model says, truth"], rows,
                 "The first held-out problems the first finished seed gets wrong (at most 5 are stored).")
