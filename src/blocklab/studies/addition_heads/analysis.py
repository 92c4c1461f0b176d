"""What the addition-heads study (study.py) makes of its results: the helpers that read them (also used by
tables.py and figures.py), ablation_results.json and the measured claims. Everything here reads only the results
dict, so `blocklab plot` and a rerun redo it without training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blocklab.io import atomic_write_text
from blocklab.report.results import dumps, per_seed
from blocklab.report.stats import mean_ci
from blocklab.report.verdicts import Measurement, around, at_least, at_most, ill_posed
from blocklab.tasks.addition import ANSWER_LEN

from . import every_problem

UNDER_TRAINED = 0.90  # the cascade is shown at the first evaluation with validation token accuracy >= this
PRUNABLE = 0.99  # the seed's criterion: a head is prunable if accuracy stays above 99% of the baseline


# ---------------------------------------------------------------------------- reading results
def head_cells(results: dict) -> list[str]:
    """The encoder-decoder cells with head ablations."""
    return [c["name"] for c in results["cells"]
            if list(per_seed(results, c["name"]).values())
            and "heads" in list(per_seed(results, c["name"]).values())[0]]


def trained_cells(results: dict) -> list[str]:
    """The cells with at least one finished seed."""
    return [c["name"] for c in results["cells"] if list(per_seed(results, c["name"]).values())]


def claims_cell(results: dict) -> str | None:
    name = f"seq2seq-{results['config']['claims_order']}"
    return name if name in head_cells(results) else None


def drops(m: dict, method: str, key: str = "em") -> np.ndarray:
    """(24,) accuracy lost (points) when each head alone is ablated."""
    h = m["heads"]
    return np.array([h["baseline"][key] - h[method][n][key] for n in h["names"]])


def prunable(m: dict, method: str = "zero") -> int:
    h = m["heads"]
    return sum(h[method][n]["em"] >= PRUNABLE * h["baseline"]["em"] for n in h["names"])


def carry_specific(m: dict, method: str = "zero") -> np.ndarray:
    """(24,) drop on problems with a carry minus drop on problems without one."""
    return drops(m, method, "em_carry") - drops(m, method, "em_no_carry")


def decoder_self_share(m: dict) -> float:
    """Share of the positive carry-specific drop that decoder self-attention heads carry."""
    spec = np.clip(carry_specific(m), 0, None)
    is_dec_self = np.array(["decoder" in n and "_self_" in n for n in m["heads"]["names"]])
    return float(spec[is_dec_self].sum() / spec.sum()) if spec.sum() > 0 else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1]) if rx.std() > 0 and ry.std() > 0 else float("nan")


def stability(ms: list[dict]) -> dict:
    """Rank agreement of zero-ablation importance between every pair of seeds: per head (head
    indices within a module are arbitrary, so this may be low by construction), per module
    (summed drop of its heads), and per head sorted within its module."""
    per_head = [drops(m, "zero") for m in ms]
    names = ms[0]["heads"]["names"]
    H = len(names) // len({n.rsplit("_head_", 1)[0] for n in names})  # heads per module
    per_module = [d.reshape(-1, H).sum(1) for d in per_head]
    sorted_within = [np.sort(d.reshape(-1, H), axis=1).ravel() for d in per_head]
    pairs = [(i, j) for i in range(len(ms)) for j in range(i + 1, len(ms))]
    return {kind: [spearman(v[i], v[j]) for i, j in pairs]
            for kind, v in (("heads", per_head), ("modules", per_module), ("sorted_within_module", sorted_within))}


def under_trained(m: dict) -> dict | None:
    """The first evaluation with validation token accuracy >= UNDER_TRAINED and greedy EM < 99%."""
    return next((h for h in m["history"] if h["val_acc"] >= UNDER_TRAINED and h["val_greedy_em"] < 0.99), None)


def cpu_to_99(m: dict) -> float | None:
    """CPU seconds of training (evaluations included) until greedy exact match first reached 99%,
    pro rata of the run's CPU time; None if it never did or the run resumed (part of its time is lost)."""
    if m["steps_to_99"] is None or m["resumed"]:
        return None
    return m["train_cpu_seconds"] * m["steps_to_99"] / max(m["steps_done"], 1)


def ci(values) -> dict:
    return mean_ci(list(values)).to_dict()  # a diverged seed's null is left out of the mean


# ---------------------------------------------------------------------------- the JSON summary
def write_ablation_json(results: dict, path: Path) -> None:
    """Decodings per cell and, per encoder-decoder cell, every head's drop (mean, 95% CI, per seed),
    prunable counts, the pruning curve, alignment and ranking stability, from results only."""
    out = {"study": results["study"], "command": results["command"], "seeds": results["seeds"],
           "quick": results["quick"], "scores": "greedy exact match (%) on the held-out test problems",
           "prunable_rule": f"accuracy with the head ablated >= {PRUNABLE} x baseline "
                            "(the source document's criterion)",
           "decoding": {}, "heads": {}}
    for c in results["cells"]:
        ms = list(per_seed(results, c["name"]).values())
        if not ms:
            continue
        t = [m["test"] for m in ms]
        out["decoding"][c["name"]] = {
            "tf_token_acc": ci(x["tf_token_acc"] for x in t), "tf_em": ci(x["tf_em"] for x in t),
            "greedy_em": ci(x["greedy_em"] for x in t),
            **{f"beam{k}_em": ci(x["beam_em"][k] for x in t) for k in t[0]["beam_em"]},
            "greedy_tf_disagree": [x["greedy_tf_disagree"] for x in t],
            "steps_to_99": [m["steps_to_99"] for m in ms], "seconds_to_99": [m["seconds_to_99"] for m in ms],
            "cpu_seconds_to_99": [cpu_to_99(m) for m in ms], "train_cpu_seconds": [m["train_cpu_seconds"] for m in ms],
            "train_seconds": [m["train_seconds"] for m in ms], "params": ms[0]["params"],
            "by_carries": {k: ci(x["by_carries"][k]["greedy_em"] for x in t) for k in t[0]["by_carries"]},
            "mistakes": t[0]["mistakes"]}
    for cell in head_cells(results):
        ms = list(per_seed(results, cell).values())
        names = ms[0]["heads"]["names"]
        entry = {"baseline_em": ci(m["heads"]["baseline"]["em"] for m in ms), "per_head": {},
                 "prunable": {meth: [prunable(m, meth) for m in ms] for meth in ("zero", "mean")},
                 "decoder_self_share_of_carry_drop": [decoder_self_share(m) for m in ms],
                 "ranking_stability_spearman": stability(ms) if len(ms) > 1 else {},
                 "pruning": [[{k: s[k] for k in ("removed", "head", "em")} for s in m["heads"]["pruning"]] for m in ms],
                 "alignment": {lab: np.mean([m["heads"]["alignment"][lab] for m in ms], axis=0).tolist()
                               for lab in ms[0]["heads"]["alignment"]},
                 "alignment_chance": ms[0]["heads"]["alignment_chance"]}
        for i, n in enumerate(names):
            entry["per_head"][n] = {f"{meth}_drop": {**ci(drops(m, meth)[i] for m in ms),
                                                     "per_seed": [float(drops(m, meth)[i]) for m in ms]}
                                    for meth in ("zero", "mean")}
            entry["per_head"][n]["carry_specific_drop"] = ci(carry_specific(m)[i] for m in ms)
        out["heads"][cell] = entry
    atomic_write_text(path, dumps(out))


def final_state(t: dict) -> dict:
    """The held-out evaluation of a trained model, in percent."""
    return {"token": t["tf_token_acc"], "greedy": t["greedy_em"],
            "first": [t["cascade"][f"first_wrong_{p}"] for p in range(ANSWER_LEN)],
            "later_greedy": t["cascade"]["later_greedy"], "later_tf": t["cascade"]["later_tf"]}


def checkpoint_state(h: dict) -> dict:
    """A validation evaluation from the training history (fractions), in percent, as final_state."""
    return {"token": 100 * h["val_acc"], "greedy": 100 * h["val_greedy_em"],
            "first": [100 * h[f"val_first_wrong_{p}"] for p in range(ANSWER_LEN)],
            "later_greedy": 100 * h["val_later_greedy"], "later_tf": 100 * h["val_later_tf"]}


def wrong_again(states: list[dict]) -> tuple[list[float], list[float]]:
    """Of the problems greedy fails, the share (%) with another wrong digit after its first:
    greedy continuing from its own prefix, and teacher forcing given the true prefix; one
    value per state (seed) that failed any problem."""
    failed = [s for s in states if s["greedy"] < 100]
    return ([100 * s["later_greedy"] / (100 - s["greedy"]) for s in failed],
            [100 * s["later_tf"] / (100 - s["greedy"]) for s in failed])


def under_trained_states(ms: list[dict]) -> list[dict]:
    return [checkpoint_state(p) for p in (under_trained(m) for m in ms) if p is not None]


# ---------------------------------------------------------------------------- claims
def measure(results: dict) -> list[Measurement]:
    cell = claims_cell(results)
    if cell is None:
        return []
    ms = list(per_seed(results, cell).values())
    t = [m["test"] for m in ms]
    tf, gr = [x["tf_token_acc"] for x in t], [x["greedy_em"] for x in t]
    disagree = sum(x["greedy_tf_disagree"] for x in t)
    early = under_trained_states(ms)
    cascade = ""
    if early:
        again_greedy, again_tf = wrong_again(early)
        cascade = (f" At each seed's first evaluation with validation token accuracy >= {UNDER_TRAINED:.0%} and "
                   f"greedy exact match < 99% ({len(early)} of {len(ms)} seeds have one): token accuracy "
                   f"{np.mean([s['token'] for s in early]):.1f}%, greedy exact match "
                   f"{np.mean([s['greedy'] for s in early]):.1f}%; of the failed problems, {np.mean(again_greedy):.0f}%"
                   f" have another wrong digit after greedy's first (teacher-forced from the true prefix: "
                   f"{np.mean(again_tf):.0f}%).")
    gap_note = (f"{cell}, {len(t)} seeds, {results['config']['n_test']:,} held-out problems. "
                f"Greedy exact match equals teacher-forced exact match problem by problem "
                f"({disagree} disagreements in all seeds), and is at least "
                f"100 - 4 x (100 - token accuracy): a 99.85% token accuracy forces >= 99.4% greedy, so the "
                f"source document's 34.9% cannot come from the same model and test set; errors cascading cannot "
                f"explain it." + cascade)
    out = [
        Measurement("C002-01", "99.85% (teacher forcing)", tf, "%", around(99.85, 0.5),
                    part="teacher-forced token accuracy", note=gap_note),
        Measurement("C002-01", "34.9% (greedy)", gr, "%", around(34.9, 5), part="greedy exact match"),
        Measurement("C002-01", "64.95 points", [a - b for a, b in zip(tf, gr)], "points", around(64.95, 5),
                    part="gap: token accuracy minus greedy exact match"),
        *every_problem.measurements(results, cell),
    ]
    names = ms[0]["heads"]["names"]
    zero = [drops(m, "zero") for m in ms]
    first, second = [float(np.sort(d)[-1]) for d in zero], [float(np.sort(d)[-2]) for d in zero]
    top = [names[int(np.argmax(d))] for d in zero]
    st = stability(ms) if len(ms) > 1 else {}
    stab = "; ".join(f"{k} {np.nanmean(v):.2f}" for k, v in st.items())
    heads_note = (f"Zero ablation, greedy exact match on the held-out set; baseline "
                  f"{np.mean([m['heads']['baseline']['em'] for m in ms]):.2f}%. Most important head per seed: "
                  f"{', '.join(top)}. Head indices within a module are interchangeable between trainings, so a "
                  f"named head is one draw; mean Spearman rank agreement between seeds: {stab or 'one seed'}.")
    for part, seed_value, values, target in (("most important head", "23.65 points", first, 23.65),
                                             ("second head", "17.85 points", second, 17.85)):
        out.append(Measurement("C002-02", seed_value, values, "points", around(target, 5), part=part,
                               note=heads_note if part == "most important head" else ""))
    for head, seed_value, target in (("decoder_0_self_head_1", "23.65 points", 23.65),
                                     ("encoder_1_self_head_3", "17.85 points", 17.85)):
        if head not in names:
            out.append(ill_posed("C002-02", seed_value, f"this model has no head {head}", part=head))
            continue
        out.append(Measurement("C002-02", seed_value, [float(d[names.index(head)]) for d in zero], "points",
                               around(target, 5), part=head))
    out.append(Measurement("C002-03", "17 of 24", [prunable(m) for m in ms], "heads", around(17, 2),
                           part="heads prunable alone (zero ablation)",
                           note=f"The source document's criterion: accuracy >= {PRUNABLE} x baseline. Mean ablation: "
                                f"{[prunable(m, 'mean') for m in ms]} per seed."))
    cross = [max(max(v) for k, v in m["heads"]["alignment"].items() if "cross" in k) for m in ms]
    chance = ms[0]["heads"]["alignment_chance"]
    out.append(Measurement("C002-04", "near zero (7.44e-05)", cross, "", at_most(0.5),
                           part="column alignment, best cross-attention head",
                           note=f"Attention mass of an answer digit on the two input digits of its column, mean "
                                f"over 500 held-out problems; uniform attention gives "
                                f"{chance.get('decoder_0_cross', float('nan')):.2f}. "
                                f"No column alignment = at most 0.5."))
    out.append(Measurement("C002-04", "carries pass through decoder self-attention",
                           [decoder_self_share(m) for m in ms], "", at_least(0.5),
                           part="decoder self-attention's share of the carry-specific drop",
                           note="Per head, drop on problems with a carry minus drop on problems without; the share "
                                "of the positive part held by the 8 decoder self-attention heads (8 of 24 heads)."))
    return out
