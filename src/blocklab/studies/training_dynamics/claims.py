"""The seed-001 claims, measured from results.json, with every rule fixed before the full run.

Tables are measured row by row, each row a part of its claim, with one tolerance per kind of
number: accuracies within ±5 points of the seed's (±3 for the epoch-50 per-op table, ±10 for
the per-op learning curves and the ablations, whose seed values are rough), losses within
±max(0.05, 25%), gradient magnitudes and parameter changes within a factor 2 (±0.3 in log10).
"Accuracy" in the seed's per-epoch table is read as validation accuracy. Everything is on the
seed's split unless a part says "disjoint". A quantity a run did not reach (an epoch past the
end of a --quick run) is NaN, which makes the part inconclusive, never confirmed. Parts about
the end of training ("epoch 50") read the run's last epoch, and say so when it is not 50.
"""
from __future__ import annotations

import math

from blocklab.report.results import finished_runs, per_seed, seed_values
from blocklab.report.verdicts import Measurement, around, at_least, at_most, between
from blocklab.studies.common.drawing import log10
from blocklab.tasks.operations import OPS

CLAIMS = tuple(f"C001-{i:02d}" for i in range(1, 16) if i != 14)  # C001-14 is generalization's
NAN = float("nan")
TABLE_EPOCHS = (0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
TRAIN_LOSS = (3.00, 2.87, 1.95, 1.42, 0.87, 0.52, 0.35, 0.28, 0.18, 0.11, 0.07, 0.05)
VAL_LOSS = (3.00, 2.89, 1.98, 1.46, 0.91, 0.56, 0.39, 0.32, 0.21, 0.14, 0.10, 0.08)
ACCURACY = (5, 8, 22, 35, 55, 72, 79, 82, 88, 92, 94, 95)
GRAD = (None, 0.0067, 0.0051, 0.0045, 0.0036, 0.0028, 0.0021, 0.0018, 0.0012, 0.0007, 0.0004, 0.0003)
PARAM_CHANGE = {2: 0.0045, 11: 0.0028, 21: 0.0015, 31: 0.0008, 41: 0.0003, 50: 0.0001}  # epoch e: theta_e - theta_e-1
OP_ACC_50 = dict(zip(OPS, (99, 98, 98, 92, 93)))
OP_CURVES = {"First": {10: 65, 20: 88, 30: 96, 50: 99}, "Max, Min": {10: 12, 20: 48, 30: 75, 50: 92}}
SIZES = {1000: 78, 5000: 89, 10000: 95, 50000: 96}
ABLATIONS = {"no-attention": 42, "no-ffn": 68, "no-layernorm": 67, "no-block2": 85, "no-pe": 87}
SEED_PARAMS = 102016
BASE = "baseline-seed"
# How text names a split: the split called `seed` in cell names is the source document's.
SPLIT_NAMES = {"seed": "source-document", "disjoint": "disjoint"}


def curve_at(results: dict, cell: str, key: str, epoch: int, pick=lambda v: v) -> list[float]:
    """One value per seed of curves[key] at `epoch` (NaN where that epoch was not run)."""
    out = []
    for rec in list(per_seed(results, cell, "record").values()):
        epochs = rec["curves"]["epoch"]
        value = rec["curves"][key][epochs.index(epoch)] if epoch in epochs and key in rec["curves"] else None
        value = None if value is None else pick(value)
        out.append(NAN if value is None else float(value))
    return out


def snapshot_at(results: dict, cell: str, epoch: int, fn) -> list[float]:
    """fn(snapshots, index of `epoch`) per seed; NaN where the epoch was not snapshotted."""
    out = []
    for rec in list(per_seed(results, cell, "record").values()):
        snaps = rec.get("snapshots", {})
        out.append(float(fn(snaps, snaps["epoch"].index(epoch))) if epoch in snaps.get("epoch", []) else NAN)
    return out


def _diff(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b)]


def _loss_rule(seed: float):
    return around(seed, max(0.05, 0.25 * seed))


def final_epoch(results: dict) -> int:
    """The baseline's last epoch: the seed's 50, or fewer when a run was configured shorter."""
    return int(results["config"]["epochs"])


def _at_end(part: str, results: dict) -> str:
    e = final_epoch(results)
    return part.replace("epoch 50", f"epoch {e}" + ("" if e == 50 else " (the source document's: 50)"))


def measure(results: dict) -> list[Measurement]:
    return [*_table_claims(results), *_ops_claims(results), *_internals_claims(results), *_sweep_claims(results)]


def _table_claims(results: dict) -> list[Measurement]:
    n_params = [float(r["metrics"]["n_params"]) for r in finished_runs(results, BASE)]
    out = [Measurement("C001-01", f"{SEED_PARAMS:,}", n_params, "", around(SEED_PARAMS, 0), part="parameters",
                       note="2 x 49,984 per block + 1,280 tokens + 128 final norm + 1,300 W_output, b_output; "
                            "sinusoidal positions have none"),
           Measurement("C001-01", "≈ 3.0", curve_at(results, BASE, "val_loss", 0), "loss", around(3.0, 0.1),
                       part="initial val loss"),
           Measurement("C001-01", "≈ 5%", curve_at(results, BASE, "val_acc", 0), "%", around(5, 3),
                       part="initial val accuracy",
                       note="accuracy of the argmax: an untrained model names nearly the same token for every input, "
                            "so it scores ~0% (a non-digit) or ~10% (a digit); 1/20 is the expected score of a random "
                            "guess, not of this model")]
    for e, tl, vl, acc in zip(TABLE_EPOCHS, TRAIN_LOSS, VAL_LOSS, ACCURACY):
        out += [Measurement("C001-02", f"{tl}", curve_at(results, BASE, "train_loss", e), "loss", _loss_rule(tl),
                            part=f"epoch {e} train loss"),
                Measurement("C001-02", f"{vl}", curve_at(results, BASE, "val_loss", e), "loss", _loss_rule(vl),
                            part=f"epoch {e} val loss"),
                Measurement("C001-02", f"{acc}%", curve_at(results, BASE, "val_acc", e), "%", around(acc, 5),
                            part=f"epoch {e} val accuracy")]
    out.append(Measurement("C001-02", "95%", curve_at(results, "baseline-disjoint", "val_acc", final_epoch(results)),
                           "%", around(95, 5), part=_at_end("epoch 50 val accuracy, disjoint split", results)))
    gain = [(a35 - a10) / (a50 - a0) * 100 if a50 != a0 else NAN for a0, a10, a35, a50 in zip(
        *(curve_at(results, BASE, "val_acc", e) for e in (0, 10, 35, 50)))]
    out.append(Measurement("C001-03", "most learning in epochs 10-35", gain, "%", at_least(50),
                           part="share of the epoch 0-50 val accuracy gain made in epochs 10-35"))
    return out


def _ops_claims(results: dict) -> list[Measurement]:
    out, end = [], final_epoch(results)
    for k, op in enumerate(OPS):
        out.append(Measurement("C001-04", f"{OP_ACC_50[op]}%", curve_at(results, BASE, "test_acc_op", end,
                               lambda v, k=k: v[k]), "%", around(OP_ACC_50[op], 3),
                               part=_at_end(f"{op}, epoch 50 test", results)))
    for name, points in OP_CURVES.items():
        ks = [OPS.index(o.strip()) for o in name.split(",")]
        for e, seed in points.items():
            values = curve_at(results, BASE, "test_acc_op", e, lambda v, ks=ks: sum(v[k] for k in ks) / len(ks))
            out.append(Measurement("C001-04", f"{seed}%", values, "%", around(seed, 10),
                                   part=f"{name}, epoch {e} test"))
    out.append(Measurement("C001-04", "First fastest", _first_lead(results), "epochs", at_most(0),
                           part="epochs for First to reach 90% test minus the fastest other op"))
    for true, given, seed in (("Max", "Min", 8), ("Min", "Max", 7)):
        values = [r["metrics"]["record"]["confusion"]["op"][OPS.index(true)][OPS.index(given)]
                  for r in finished_runs(results, BASE)]
        out.append(Measurement("C001-05", f"{seed}%", values, "%", around(seed, 3),
                               part=_at_end(f"{true} rows answered with {given}'s answer, epoch 50 test", results)))
    positional = [max(r["metrics"]["record"]["confusion"]["op"][i][j] for i in range(3) for j in range(5) if i != j)
                  for r in finished_runs(results, BASE)]
    out.append(Measurement("C001-05", "~1%", positional, "%", between(0, 2),
                           part="largest confusion of First/Second/Last with another op"))
    return out


def _first_lead(results: dict) -> list[float]:
    """Per seed: epochs until First's test accuracy reaches 90% minus the least such epoch of the other ops."""
    out = []
    for rec in list(per_seed(results, BASE, "record").values()):
        curves = rec["curves"]
        reach = [next((e for e, v in zip(curves["epoch"], curves["test_acc_op"]) if v[k] >= 90), math.inf)
                 for k in range(len(OPS))]
        lead = reach[0] - min(reach[1:])
        out.append(lead if math.isfinite(lead) else NAN)
    return out


def attention_to_answer(snaps: dict, i: int, block: int) -> float:
    """Max over heads of the attention from the last position of Max(5,3,9) (probe 0) to the 9 (position 6)."""
    return max(head[-1][6] for head in snaps["attention"][i][block][0])


def attention_entropy(snaps: dict, i: int) -> float:
    """Mean over blocks, heads and probes of the last position's attention entropy / ln(8)."""
    rows = [head[-1] for block in snaps["attention"][i] for probe in block for head in probe]
    return sum(-sum(p * math.log(p) for p in row if p > 0) / math.log(len(row)) for row in rows) / len(rows)


def _share(snaps: dict, i: int, key: str, floor: float = 0.5) -> float:
    units = [u for block in snaps[key][i] for u in block]
    return 100 * sum(u >= floor for u in units) / len(units)


def _internals_claims(results: dict) -> list[Measurement]:
    end = final_epoch(results)
    ent1, ent50 = (snapshot_at(results, BASE, e, attention_entropy) for e in (1, end))
    out = [Measurement("C001-06", "uniform at epoch 1", ent1, "", at_least(0.9),
                       part="epoch 1: answer-position attention entropy / ln 8"),
           Measurement("C001-06", "sharp at epoch 50", _diff(ent1, ent50), "", at_least(0.1),
                       part=_at_end("entropy drop, epoch 1 to epoch 50", results)),
           Measurement("C001-06", "0.65 on the maximum digit", snapshot_at(
               results, BASE, end, lambda s, i: attention_to_answer(s, i, 1)), "", at_least(0.5),
               part=_at_end("block 2, best head: ')' of Max(5,3,9) onto the 9, epoch 50", results),
               note="the source document's 0.65 is from position 4 onto position 6, which a causal decoder cannot see; "
                    "measured from the answer position instead")]
    for key, seed, rule in (("cos_op_op", "≥ 0.95", at_least(0.95)), ("cos_digit_digit", "≥ 0.90", at_least(0.9)),
                            ("cos_op_digit", "≤ 0.15", at_most(0.15))):
        out.append(Measurement("C001-07", seed, curve_at(results, BASE, key, end), "", rule,
                               part=_at_end(f"{key}, epoch 50", results)))
    for key, what in (("ffn_eta_op", "the op"), ("ffn_eta_digit", "the answer digit")):
        out.append(Measurement("C001-08", "neurons specialize", snapshot_at(
            results, BASE, end, lambda s, i, key=key: _share(s, i, key)), "%", at_least(10),
            part=_at_end(f"FFN neurons (both blocks) with >= half their variance explained by {what}, epoch 50",
                         results)))
    for e, seed in zip(TABLE_EPOCHS[1:], GRAD[1:]):
        out.append(Measurement("C001-09", f"{seed}", log10(curve_at(results, BASE, "grad_abs", e, lambda g: g["all"])),
                               "log10", around(math.log10(seed), 0.3), part=f"epoch {e} mean |gradient|"))
    for e, seed in PARAM_CHANGE.items():
        out.append(Measurement("C001-09", f"{seed}", log10(curve_at(results, BASE, "param_change", e,
                                                                     lambda g: g["all"])),
                               "log10", around(math.log10(seed), 0.3), part=f"epoch {e} mean |parameter change|",
                               note="the source document's 50->51 is measured as 49->50 (training stops at 50)"
                               if e == 50 else ""))
    g1, g50 = (curve_at(results, BASE, "grad_abs", e, lambda g: g["all"]) for e in (1, end))
    out.append(Measurement("C001-09", "0.0067 -> 0.0003 (22x)", [a / b for a, b in zip(g1, g50)], "x", at_least(5),
                           part=_at_end("gradient magnitude epoch 1 / epoch 50", results)))
    for split in ("seed", "disjoint"):
        cell = f"baseline-{split}"
        gap = _diff(curve_at(results, cell, "val_loss", end), curve_at(results, cell, "train_loss", end))
        out.append(Measurement("C001-10", "0.08 - 0.05", gap, "loss", between(0, 0.1),
                               part=_at_end(f"val minus train loss, epoch 50, {SPLIT_NAMES[split]} split", results)))
    out.append(Measurement("C001-10", "0.07", curve_at(results, BASE, "test_loss", end), "loss", _loss_rule(0.07),
                           part=_at_end("test loss, epoch 50", results)))
    out.append(Measurement("C001-10", "not memorization", _diff(seed_values(results, BASE, "test_acc"),
                                                                 seed_values(results, "baseline-disjoint", "test_acc")),
                           "points", at_most(2), part="test accuracy, source-document split minus disjoint split",
                           note="the source document's test inputs mostly occur in training; the disjoint "
                                "split's never do"))
    return out


def _sweep_claims(results: dict) -> list[Measurement]:
    budget = int(results["config"]["sweep_epochs"])
    ref = curve_at(results, BASE, "test_acc", budget)
    note = f"after the sweep budget ({budget} epochs' updates of the source document's recipe)"
    out = []
    for n, seed in SIZES.items():
        values = ref if n == results["config"]["n_train"] else seed_values(results, f"size-{n}", "test_acc")
        out.append(Measurement("C001-11", f"{seed}%", values, "%", around(seed, 5), part=f"{n:,} rows", note=note))
        if n in results["config"]["size_disjoint"]:
            out.append(Measurement("C001-11", f"{seed}%", seed_values(results, f"size-{n}-disjoint", "test_acc"), "%",
                                   around(seed, 5), part=f"{n:,} rows, disjoint split", note=note))
    for name, seed in ABLATIONS.items():
        out.append(Measurement("C001-12", f"{seed}%", seed_values(results, f"ablate-{name}", "test_acc"), "%",
                               around(seed, 10), part=name, note=note))
    out.append(Measurement("C001-12", "< 15% (fails)", seed_values(results, "ablate-no-residual", "test_acc"), "%",
                           at_most(15), part="no-residual", note=note))
    for opt in ("sgd", "sgd-momentum"):
        out.append(Measurement("C001-13", "Adam faster",
                               _diff(ref, seed_values(results, f"optimizer-{opt}", "test_acc")),
                               "points", at_least(1), part=f"Adam minus {opt}, test accuracy", note=note))
    per_epoch = [c / e for c, e in zip(seed_values(results, BASE, "cpu_s"), seed_values(results, BASE, "epochs"))]
    cpu = [50 * c for c in per_epoch]
    to95 = seed_values(results, BASE, "time_to_95.cpu_s")
    out += [Measurement("C001-15", "~2 hours", cpu, "s", between(3600, 10800),
                        part="the source document's recipe, 50 epochs, CPU s",
                        note="CPU s per epoch x 50; measured over the run's own epochs (the cost per epoch is flat)"),
            Measurement("C001-15", "~2 hours to 95%", to95, "s", between(3600, 10800),
                        part="the source document's recipe, CPU s to 95% val accuracy")]
    return out
