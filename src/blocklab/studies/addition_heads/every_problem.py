"""The addition-heads tables for every problem: greedy exact match on all 10^6 sums per seed,
by carry chain, the wrong answers, and the heads that pass a carry through a 9 (nines.py).

They read only results.json, like tables.py; study.py scores each model with
tasks/addition_exhaustive.py.
"""
from __future__ import annotations

import numpy as np

from blocklab.report.results import config_value, per_seed
from blocklab.report.stats import mean_ci
from blocklab.report.tables import Table
from blocklab.report.verdicts import Measurement, around
from blocklab.tasks.addition import CHAINS, N_PAIRS
from blocklab.tasks.addition_exhaustive import CHAIN_LABELS, zero_failure_bound

FAILURES_KEPT = 50  # per model in results.json, with the count
FAILURES_SHOWN = 10  # per model on the report page
RELAY_SHOWN = 6  # heads per cell in the relay table


def scored(results: dict, cell: str) -> dict[int, dict]:
    """{seed: metrics} of the cell's finished runs that were scored on every problem."""
    return {s: m for s, m in per_seed(results, cell).items() if "exhaustive" in m}


def scored_cells(results: dict) -> list[str]:
    return [c["name"] for c in results["cells"] if scored(results, c["name"])]


def rates(results: dict, cell: str) -> list[float]:
    return [m["exhaustive"]["exact_match"] for m in scored(results, cell).values()]


def tables(results: dict) -> list[Table]:
    cells = scored_cells(results)
    out = [per_seed_rates(results, cells), by_chain(results, cells), failures(results, cells)] if cells else []
    relay_cells = [c["name"] for c in results["cells"]
                   if any("nines" in m for m in per_seed(results, c["name"]).values())]
    return out + ([relay(results, relay_cells)] if relay_cells else [])


def per_seed_rates(results: dict, cells: list[str]) -> Table:
    rows = []
    for cell in cells:
        ms = scored(results, cell)
        for seed, m in ms.items():
            e = m["exhaustive"]
            rows.append([cell, seed, f"{m['test']['greedy_em']:.2f}", f"{e['exact_match']:.4f}", e["wrong"],
                         "—" if e["error_bound_95"] is None else f"{e['error_bound_95']:.1e}",
                         f"{e['cpu_seconds']:.0f}"])
        perfect = sum(m["exhaustive"]["wrong"] == 0 for m in ms.values())
        rows.append([cell, "all", "", mean_ci(rates(results, cell)).text(".4f"),
                     f"{perfect} of {len(ms)} seeds none", "", ""])
    cfg = results["config"]
    n = cfg["n_test"]
    share = cfg.get("nine_share")
    steps = config_value(results, "train.steps")
    drawn = "uniformly (9% carry through a 9)" if share is None else f"with {share:.0%} carrying through a 9"
    return Table("Every problem: greedy exact match on all 10^6 sums, beside the held-out set",
                 ["cell", "seed", f"held-out ({n:,}) exact match (%)", "all 10^6 exact match (%)", "wrong",
                  "95% bound on the error rate", "CPU seconds to score"], rows,
                 f"Greedy decoding of every a + b with a, b in 0..999, after {steps} steps on training "
                 f"problems drawn {drawn}. The row 'all': mean [95% interval] of the "
                 f"seeds' rates. A seed with no wrong answer gets the one-sided 95% upper bound on its error rate, "
                 f"the 10^6 problems taken as independent trials: 1 - 0.05^(1/10^6) = "
                 f"{zero_failure_bound(N_PAIRS):.2e} (the rule of three). {n:,} held-out problems expect fewer than "
                 f"one wrong answer from a model above {100 - 100 / n:.1f}%, so they cannot tell these models apart.")


def by_chain(results: dict, cells: list[str]) -> Table:
    rows = []
    for chain in CHAINS:
        n = next(iter(scored(results, cells[0]).values()))["exhaustive"]["by_chain"][chain]["n"]
        per_cell = []
        for cell in cells:
            parts = [m["exhaustive"]["by_chain"][chain] for m in scored(results, cell).values()]
            per_cell.append(f"{mean_ci(p['accuracy'] for p in parts).text('.4f')} "
                            f"({', '.join(str(p['wrong']) for p in parts)})")
        rows.append([CHAIN_LABELS[chain], f"{n:,}", *per_cell])
    return Table("Exact match (%) on all 10^6 problems by carry chain", ["carry chain", "problems", *cells], rows,
                 "Mean [95% CI] over seeds, each seed's wrong answers in parentheses. A column whose digits sum to "
                 "10 or more makes its own carry; one summing to 9 passes on the carry it receives (45 + 555: the "
                 "tens pass the units' carry to the hundreds). 'Through one / two 9-columns': a carry passes "
                 "through that many; 'single carries': every carry is made by its own column.")


def failures(results: dict, cells: list[str]) -> Table:
    rows = []
    for cell in cells:
        for seed, m in scored(results, cell).items():
            e = m["exhaustive"]
            shown = e["failures"][:FAILURES_SHOWN]
            rows += [[cell, seed, f"{f['a']} + {f['b']}", f["said"], f["truth"], CHAIN_LABELS[f["chain"]]]
                     for f in shown]
            if e["wrong"] > len(shown) or not shown:
                rows.append([cell, seed, f"and {e['wrong'] - len(shown):,} more" if shown else "none wrong", "", "",
                             ""])
    return Table("The wrong answers among all 10^6 problems",
                 ["cell", "seed", "problem", "model says", "truth", "carry chain"], rows,
                 f"The first {FAILURES_SHOWN} per seed, a then b ascending; results.json keeps the first "
                 f"{FAILURES_KEPT} and the count.")


def relay(results: dict, cells: list[str]) -> Table:
    rows = []
    for cell in cells:
        ms = [m["nines"] for m in per_seed(results, cell).values() if "nines" in m]
        gap = {h: [x["drop"][h]["nine"] - x["drop"][h]["match"] for x in ms] for h in ms[0]["drop"]}
        for h in sorted(gap, key=lambda h: -np.mean(gap[h]))[:RELAY_SHOWN]:
            rows.append([cell, h, f"{np.mean([x['drop'][h]['nine'] for x in ms]):.1f}",
                         f"{np.mean([x['drop'][h]['match'] for x in ms]):.1f}",
                         ", ".join(f"{g:.1f}" for g in gap[h]), f"{np.mean([x['shift'][h] for x in ms]):.2f}"])
        base = {k: np.mean([x["baseline"][k] for x in ms]) for k in ("nine", "match")}
        rows.append([cell, "none ablated (exact match %)", f"{base['nine']:.2f}", f"{base['match']:.2f}", "", ""])
    n = ms[0]["n"]
    return Table("Where carries through a 9 fail: the heads that pass the carry on",
                 ["cell", "head", "points lost, nine set", "points lost, matched set", "difference per seed",
                  "attention shift"], rows,
                 f"{n} problems whose tens digits sum to 9 and relay the units' carry (45 + 555), each matched with "
                 f"the same problem with a tens digit raised so the tens make the carry themselves (55 + 555). "
                 f"Points of exact match lost when the head alone is zero-ablated, mean over seeds; the "
                 f"{RELAY_SHOWN} heads whose loss on the nine set most exceeds that on the matched set. Attention "
                 f"shift: mean total-variation distance between the head's attention on a nine problem and on its "
                 f"match (at the query writing the hundreds digit; at the tens digits for encoder heads), 0 to 1.")


def measurements(results: dict, cell: str) -> list[Measurement]:
    """C002-01's greedy exact match restated on all 10^6 problems, for the claims cell."""
    ms = list(scored(results, cell).values())
    if not ms:
        return []
    every = [m["exhaustive"] for m in ms]
    nine = [sum(e["by_chain"][c][k] for e in every for c in CHAINS[2:]) for k in ("wrong", "n")]
    rest = [sum(e["by_chain"][c][k] for e in every for c in CHAINS[:2]) for k in ("wrong", "n")]
    perfect = sum(e["wrong"] == 0 for e in every)
    per_seed_text = ", ".join(f"{e['exact_match']:.4f}%" for e in every)
    wrong_text = ", ".join(str(e["wrong"]) for e in every)
    note = (f"{cell}, greedy decoding of all 10^6 problems per seed: {per_seed_text} ({wrong_text} wrong); "
            f"the {results['config']['n_test']:,} held-out problems give "
            f"{mean_ci(m['test']['greedy_em'] for m in ms).text('.2f')}%. {perfect} of {len(ms)} seeds answer every "
            f"problem (error rate <= {zero_failure_bound(N_PAIRS):.1e} at 95% each). Problems whose carry passes "
            f"through a 9-column: {100 * (1 - nine[0] / nine[1]):.4f}% right over all seeds; the others "
            f"{100 * (1 - rest[0] / rest[1]):.4f}%.")
    return [Measurement("C002-01", "34.9% (greedy)", [e["exact_match"] for e in every], "%", around(34.9, 5),
                        part="greedy exact match, all 10^6 problems", note=note)]
