"""The training-dynamics report page's tables: each of the seed's tables beside blocklab's numbers.

Every row gives the seed's figure, blocklab's mean [95% CI] over the finished seeds (a bootstrap
that stays within the values, report/stats.py) and how many seeds (or runs) it pools. The seed's figures
are those the claims module tests (claims.py), so the page and the verdicts cannot disagree about what
the seed says. A cell a run did not hold (a --quick run, --set parts=...) gives no row, and a
table left without rows is not drawn; an epoch past the end of a run reads "not reached".
Everything is read from the results dict, like the figures.
"""
from __future__ import annotations

import math
from typing import Callable

from blocklab.report.results import config_value, finished_runs, per_seed, seed_values
from blocklab.report.stats import mean_ci
from blocklab.report.tables import Table
from blocklab.tasks.operations import OPS

from .claims import (
    ABLATIONS,
    ACCURACY,
    BASE,
    GRAD,
    OP_ACC_50,
    OP_CURVES,
    PARAM_CHANGE,
    SEED_PARAMS,
    SIZES,
    SPLIT_NAMES,
    TABLE_EPOCHS,
    TRAIN_LOSS,
    VAL_LOSS,
    curve_at,
    final_epoch,
)

ACC, LOSS, GRAD_FMT, SECONDS = ".1f", ".3f", ".2g", ",.1f"
SEED_CPU_S = 7200  # the seed's "~2 hours on CPU" for 50 epochs
# The seed's op confusion at epoch 50 (PART 5): rows the true op, columns the op whose answer was given.
SEED_CONFUSION = {"First": (99, 1, 0, 0, 0), "Second": (1, 98, 1, 0, 0), "Last": (0, 1, 98, 1, 0),
                  "Max": (0, 0, 0, 92, 8), "Min": (0, 0, 0, 7, 93)}
SWEEP_PREFIXES = ("size-", "optimizer-", "lr-", "schedule-", "batch-", "ablate-")
# What the seed says, in words, of sweep settings it gives no number for (PART 8, C001-12, C001-13).
SEED_WORDS = {"ablate-no-residual": "< 15 (training fails)", "optimizer-sgd": "below Adam (slower)",
              "optimizer-sgd-momentum": "below Adam (slower)", "lr-0.1": "overshoots, may diverge",
              "lr-1e-06": "far too slow to converge"}


def measured(values: list[float], fmt: str, missing: str = "not reached") -> str:
    """'mean [low, high]' of the finite values; says how many runs have none (NaN: an epoch past
    the run's end, a threshold never reached, a diverged loss)."""
    if not values:
        return "—"
    interval = mean_ci(values)
    if interval.n == 0:
        return missing
    text = interval.text(fmt)
    if interval.n < len(values):
        text += f" ({len(values) - interval.n} of {len(values)} {missing})"
    return text


def _seed(value, fmt: str = "g") -> str:
    return "—" if value is None else value if isinstance(value, str) else format(value, fmt)


def _has(results: dict, cell: str) -> bool:
    return bool(finished_runs(results, cell))


def _paired_difference(results: dict, pairs: list[tuple[str, str]], key: str) -> list[float]:
    """a - b per seed that both cells of a pair finished, over all pairs."""
    out = []
    for a, b in pairs:
        va, vb = per_seed(results, a, key, numeric=True), per_seed(results, b, key, numeric=True)
        out += [va[s] - vb[s] for s in sorted(va.keys() & vb.keys())]
    return out


def tables(results: dict) -> list[Table]:
    builders = (per_epoch, per_op, op_curves, op_confusion, parameter_change, sweeps, headline, setup, generalization)
    return [table for build in builders if (table := build(results)) is not None]


def per_epoch(results: dict) -> Table | None:
    n = len(finished_runs(results, BASE))
    if not n:
        return None
    end = final_epoch(results)
    columns = (("train_loss", TRAIN_LOSS, ".2f", LOSS, None), ("val_loss", VAL_LOSS, ".2f", LOSS, None),
               ("val_acc", ACCURACY, "d", ACC, None), ("grad_abs", GRAD, "g", GRAD_FMT, lambda g: g["all"]))
    rows = []
    for e in sorted({*TABLE_EPOCHS, end}):
        row = [e if e in TABLE_EPOCHS else f"{e} (this run's last)"]
        for key, seed, seed_fmt, fmt, pick in columns:
            figure = seed[TABLE_EPOCHS.index(e)] if e in TABLE_EPOCHS else None
            values = curve_at(results, BASE, key, e, pick or (lambda v: v))
            row += [_seed(figure, seed_fmt), measured(values, fmt, "not reached" if e > end else "—")]
        rows.append(row + [n])
    headers = ["epoch"] + [f"{q}: {who}" for q in ("train loss", "val loss", "val accuracy (%)", "mean |gradient|")
                           for who in ("source document", "blocklab")] + ["seeds"]
    return Table("The source document's per-epoch table: loss, accuracy and gradient by epoch", headers, rows,
                 f"From {BASE} (the source document's recipe on its split), its per-epoch curves; blocklab columns "
                 "are mean [95% CI] over seeds. Train loss is the mean over the epoch's batches in train mode "
                 "(dropout on), as a training log shows it; val loss and accuracy are in eval mode (the source "
                 "document's 'Accuracy' is read as validation accuracy); mean |gradient| is over all parameters, "
                 "averaged over the epoch's steps (none before the first step, epoch 0). Rows past the run's last "
                 "epoch read 'not reached'.")


def per_op(results: dict) -> Table | None:
    cells = [c for c in (BASE, "baseline-disjoint") if _has(results, c)]
    if not cells:
        return None
    end = final_epoch(results)
    rows = [[op, OP_ACC_50[op], *(measured(seed_values(results, c, f"test_acc_op.{op}"), ACC) for c in cells)]
            for op in OPS]
    headers = ["op", "source document (%)"] + [
        f"{SPLIT_NAMES[c.removeprefix('baseline-')]} split (n={len(finished_runs(results, c))})" for c in cells]
    return Table(f"Per-op test accuracy at epoch {end}" + ("" if end == 50 else " (the source document's: 50)"),
                 headers, rows,
                 "The baseline cells' test accuracy per op at their last epoch, mean [95% CI] over seeds. The source "
                 "document's split repeats inputs, so most of its test rows occur in training; the disjoint split's "
                 "never do.")


def op_curves(results: dict) -> Table | None:
    n = len(finished_runs(results, BASE))
    if not n:
        return None
    rows = []
    for name, points in OP_CURVES.items():
        ks = [OPS.index(o.strip()) for o in name.split(",")]
        for e, seed in points.items():
            values = curve_at(results, BASE, "test_acc_op", e, lambda v, ks=ks: sum(v[k] for k in ks) / len(ks))
            rows.append([name, e, seed, measured(values, ACC), n])
    return Table("Per-op test accuracy during training",
                 ["op", "epoch", "source document (%)", "blocklab (%)", "seeds"], rows,
                 f"From {BASE}'s per-epoch test accuracy per op; 'Max, Min' is the mean of the two ops, as the source "
                 "document gives one curve for both. Mean [95% CI] over seeds.")


def op_confusion(results: dict) -> Table | None:
    runs = finished_runs(results, BASE)
    if not runs:
        return None
    rows = []
    for i, op in enumerate(OPS):
        rows.append([op, "source document", *SEED_CONFUSION[op], "—"])
        rows.append([op, f"blocklab (n={len(runs)})",
                     *(measured([r["metrics"]["record"]["confusion"]["op"][i][j] for r in runs], ACC)
                       for j in range(len(OPS) + 1))])
    return Table(f"Which op's answer was given, epoch {final_epoch(results)} test (%)",
                 ["true op", "source", *OPS, "no op's answer"], rows,
                 f"From {BASE}'s final test predictions: the diagonal is the share answered right, an off-diagonal "
                 "entry the share answered wrong with that op's answer on the same arguments, the last column wrong "
                 "with no op's answer (the source document's rows sum to 100 without it). Mean [95% CI] over seeds.")


def parameter_change(results: dict) -> Table | None:
    n = len(finished_runs(results, BASE))
    if not n:
        return None
    rows = [[f"{e - 1}→{e}" + (" (source document: 50→51)" if e == 50 else ""), _seed(seed),
             measured(curve_at(results, BASE, "param_change", e, lambda g: g["all"]), GRAD_FMT), n]
            for e, seed in PARAM_CHANGE.items()]
    return Table("Mean |parameter change| per epoch", ["epochs", "source document", "blocklab", "seeds"], rows,
                 f"From {BASE}: mean |theta_e - theta_(e-1)| over all parameters. Training stops at epoch 50, so the "
                 "source document's 50→51 is measured as 49→50. Mean [95% CI] over seeds.")


def _changed(params: dict) -> str:
    """A sweep cell's change to the seed's recipe, from its params."""
    parts = [f"{params['n_train']:,} training rows"] if params.get("n_train") else []
    parts += [f"{params['split']} split"] if params.get("split", "seed") != "seed" else []
    parts += [f"batch {params['batch_size']}"] if params.get("batch_size") else []
    parts += [f"{k} {v}" for k, v in {**params.get("train", {}), **params.get("model", {})}.items()
              if not (k == "warmup_epochs" and v == 0)]
    return ", ".join(parts)


def sweeps(results: dict) -> Table | None:
    cfg = results["config"]
    budget = cfg["sweep_epochs"]
    cells = [c for c in results["cells"] if c["name"].startswith(SWEEP_PREFIXES) and _has(results, c["name"])]
    rows = []
    if cells and _has(results, BASE):
        updates = budget * max(1, cfg["n_train"] // config_value(results, "train.batch_size"))
        rows.append([f"{BASE} at epoch {budget}", "none: the source document's recipe", updates,
                     _seed(SIZES.get(cfg["n_train"])),
                     measured(curve_at(results, BASE, "test_acc", budget), ACC), len(finished_runs(results, BASE))])
    for cell in cells:
        name, runs = cell["name"], finished_runs(results, cell["name"])
        if name.startswith("size-"):
            figure = SIZES.get(cell["params"]["n_train"])
        else:
            figure = ABLATIONS.get(name.removeprefix("ablate-")) if name.startswith("ablate-") else None
        rows.append([name, _changed(cell["params"]), runs[0]["metrics"]["steps"], _seed(SEED_WORDS.get(name, figure)),
                     measured(seed_values(results, name, "test_acc"), ACC, "without a value"), len(runs)])
    if not rows:
        return None
    return Table("Sweeps: one factor of the source document's recipe changed, test accuracy",
                 ["cell", "changed", "updates", "source document (%)", "blocklab (%)", "seeds"], rows,
                 f"Each sweep cell trains on the budget of {budget} epochs' updates of the source document's recipe "
                 "(a size cell keeps the updates, a batch-1 cell is capped) and reports test accuracy at its end, "
                 f"mean [95% CI] over seeds. The reference row is {BASE} at epoch {budget}, the same training run. "
                 "The source document's figures (C001-11 sizes, C001-12 ablations) are final accuracies after its "
                 "50 epochs.")


def headline(results: dict) -> Table | None:
    cfg = results["config"]
    recipes = (("the source document's", lambda s: [f"baseline-{s}"]),
               ("headline", lambda s: [f"headline-{s}-r{j}" for j in range(cfg["headline_replicas"])]))
    quantities = (("test_acc", "test accuracy (%)", "95", ACC),
                  ("cpu_s", "CPU s of training", f"~{SEED_CPU_S:,} (2 hours, 50 epochs)", SECONDS),
                  ("wall_s", "wall s of training", "—", SECONDS),
                  ("time_to_95.cpu_s", "CPU s to 95% val accuracy", f"~{SEED_CPU_S:,} (95% at epoch 50)", SECONDS),
                  ("time_to_99.cpu_s", "CPU s to 99% val accuracy", "never (95% at epoch 50)", SECONDS))
    rows = []
    for recipe, cells_of in recipes:
        for key, what, figure, fmt in quantities:
            for split in ("seed", "disjoint"):
                values = [v for c in cells_of(split) for v in seed_values(results, c, key)]
                if values:
                    rows.append([recipe, f"{what}, {SPLIT_NAMES[split]} split", figure,
                                 measured(values, fmt, "never reached"), len(values)])
            if key == "test_acc":
                diff = _paired_difference(results, list(zip(cells_of("seed"), cells_of("disjoint"))), key)
                if diff:
                    rows.append([recipe, "test accuracy, source-document split minus disjoint (points)", "—",
                                 measured(diff, ACC), len(diff)])
    if not rows:
        return None
    head = next((c["params"] for c in results["cells"] if c["name"].startswith("headline-")), None)
    lr, batch = config_value(results, "train.lr"), config_value(results, "train.batch_size")
    note = (f"The source document's recipe: the baseline-<split> cells, Adam lr {lr:g}, constant, batch {batch}, "
            f"{cfg['epochs']} epochs, validation checked once per epoch (at least 10 times a run). ")
    if head is not None:
        note += (f"The headline recipe: Adam, {_changed(head)}, {cfg['headline_epochs']} epochs, validation checked 4 "
                 f"times per epoch; its {cfg['headline_replicas']} replica cells per split are pooled "
                 "(headline-<split>-r<j>, model and data seed = seed + 1000 j). ")
    note += ("CPU s is process time of training on one thread, the recorder's own work excluded; time to 95% / 99% is "
             "at the first validation check at or over it. The difference pairs runs of the same seed. Mean [95% CI] "
             "over runs.")
    return Table("Headline: accuracy and training time, the source document's recipe and the fastest found",
                 ["recipe", "quantity", "source document", "blocklab", "runs"], rows, note)


def setup(results: dict) -> Table | None:
    runs = finished_runs(results, BASE)
    if not runs:
        return None
    cfg, m = results["config"], runs[0]["metrics"]
    train = m["train_config"]
    rows = [["learning rate", "0.001", f"{train['lr']:g}"], ["batch size", "32", m["batch_size"]],
            ["epochs", "50", cfg["epochs"]], ["optimizer", "Adam, β₁=0.9, β₂=0.999",
                                               f"{train['optimizer']}, betas {tuple(train['betas'])}"],
            ["weight decay", "0", f"{train['weight_decay']:g}"], ["training rows", "10,000", cfg["n_train"]],
            ["updates", "15,600", m["steps"]], ["parameters", SEED_PARAMS, m["n_params"]]]
    return Table("The source document's hyperparameters and this run's",
                 ["parameter", "source document", "this run"], rows,
                 f"This run's values from {BASE}'s stored training config (seed {runs[0]['seed']}). "
                 "The architecture rows of the source document's table (2 blocks, d_model 64, 4 heads, FFN 256, "
                 "dropout 0.1, vocabulary 20, max length 50) are fixed in nn.models.operations.SEED_MODEL; "
                 "the parameter count checks them.")


def _mean_over_ops(results: dict, cell: str, path: str) -> list[float]:
    """Per seed, the mean over ops of the metric at path.format(op=...), its finite values only."""
    out = []
    for values in zip(*(seed_values(results, cell, path.format(op=op)) for op in OPS)):
        finite = [v for v in values if math.isfinite(v)]
        out.append(sum(finite) / len(finite) if finite else float("nan"))
    return out


def generalization(results: dict) -> Table | None:
    """One row per probe of the gen-* cells that ran; a metric is a dotted path or a function of the cell."""
    cfg = results["config"]
    held = ", ".join(f"{op} {d}" for op, d in zip(OPS, cfg.get("held_out_digits", ())))
    specs: list[tuple[str, str, str, str | Callable[[str], list[float]]]] = [
        ("gen-seed-split", "all test rows (%)", "95", "test_acc"),
        ("gen-seed-split", "test rows seen in training (%)", "—", "orderings.seen.acc"),
        ("gen-seed-split", "test rows not in training, same multiset (%)", "—", "orderings.reordered.acc"),
        ("gen-disjoint-split", "all test rows (%)", "—", "test_acc"),
        ("gen-disjoint-split", "unseen orderings (%)", "Max(9,5,3) -> 9", "orderings.reordered.acc"),
        ("gen-disjoint-split", "multiset the op never met (%)", "—", "orderings.unseen.acc"),
        ("gen-unseen-combinations", "combinations never trained in any order (%)", "Max(1,6,3) -> 6", "test_acc"),
        ("gen-held-out-values", f"rows holding the op's held-out digit ({held}) (%)", "generalizes", "test_acc"),
        ("gen-held-out-values", "rows whose answer is that digit, mean over ops (%)", "—",
         lambda c: _mean_over_ops(results, c, "held_out.{op}.acc_answer_is_digit")),
        ("gen-seed-split", "all-equal arguments, e.g. Max(0,0,0), mean over ops (%)", "—",
         lambda c: _mean_over_ops(results, c, "edge.by_op.{op}.all-equal.acc")),
        ("gen-seed-split", "Middle(a,b,c), never trained: answers = the median, distinct a,b,c (%)", "—",
         "middle.agree_distinct.median"),
    ]
    for cell in [c["name"] for c in results["cells"]
                 if c["name"] == "gen-seed-split" or c["name"].startswith("gen-length-")]:
        runs = finished_runs(results, cell)
        specs += [(cell, f"{n} arguments, trained on 3, {runs[0]['metrics']['pos_encoding']} positions (%)", "—",
                   f"lengths.{n}.acc") for n in cfg.get("test_lengths", ()) if runs]
    specs += [(cell, f"val minus train loss (eval mode), epoch {e}", "—", lambda c, e=e: _gap_at(results, c, e))
              for cell in ("gen-long-seed-split", "gen-long-disjoint-split")
              for e in (cfg.get("gen_epochs"), cfg.get("long_epochs"))]
    rows = []
    for cell, what, figure, metric in specs:
        if _has(results, cell):
            values = seed_values(results, cell, metric) if isinstance(metric, str) else metric(cell)
            rows.append([cell, what, figure, measured(values, LOSS if "loss" in what else ACC, "without a value"),
                         len(values)])
    if not rows:
        return None
    return Table("Generalization: accuracy on inputs training never showed",
                 ["cell", "test", "source document", "blocklab", "seeds"], rows,
                 "From the gen-* cells (generalize.py): each trains the source document's model on one split "
                 f"for {cfg.get('gen_epochs')} epochs (the gen-long-* cells for {cfg.get('long_epochs')}) "
                 "and runs every probe on it. The source document gives examples, not rates, for its generalization "
                 "claims (C001-14). Mean [95% CI] over seeds.")


def _gap_at(results: dict, cell: str, epoch: int) -> list[float]:
    """Per seed: validation minus training loss (both in eval mode) at `epoch` of a gen-long-* curve."""
    out = []
    for run in finished_runs(results, cell):
        curve = run["metrics"]["curve"]
        i = next((i for i, x in enumerate(curve["epoch"]) if abs(x - epoch) < 1e-9), None)
        gap = None if i is None or None in (curve["val_eval_loss"][i], curve["train_eval_loss"][i]) else (
            curve["val_eval_loss"][i] - curve["train_eval_loss"][i])
        out.append(float("nan") if gap is None else gap)
    return out
