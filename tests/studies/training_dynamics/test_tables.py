"""The training-dynamics report tables, built from a small hand-made results dict with known values."""
from __future__ import annotations

import math

import pytest

from blocklab.studies.training_dynamics.study import TrainingDynamics
from blocklab.studies.training_dynamics.tables import measured, tables

CONFIG = {"epochs": 2, "sweep_epochs": 1, "n_train": 1000, "batch_size": 10, "lr": 1e-3, "headline_lr": 1e-3,
          "headline_schedule": "cosine", "headline_batch": 10, "headline_epochs": 1, "headline_replicas": 1,
          "gen_epochs": 1, "long_epochs": 2, "held_out_digits": [1, 3, 5, 7, 2], "test_lengths": [2]}
VAL_ACC_EPOCH1 = (60.0, 70.0, 80.0)  # seeds 0, 1, 2: mean 70; with three seeds the bootstrap interval spans them
MAX_ACC = (90.0, 92.0, 94.0)  # mean 92, interval [90, 94] (report/stats.py: the bootstrap, within the values)


def baseline_metrics(seed: int, disjoint: bool = False) -> dict:
    shift = -1.0 if disjoint else 0.0
    op_acc = [99.0, 98.0, 97.0, MAX_ACC[seed], 93.0]
    confusion = [[100.0 * (i == j) for j in range(6)] for i in range(5)]
    confusion[3][4], confusion[3][3] = 8.0 + seed, 92.0 - seed  # Max rows given Min's answer: 8, 9, 10
    curves = {"epoch": [0, 1, 2], "train_loss": [3.0, 1.0, 0.5], "val_loss": [3.0, 1.1, 0.6],
              "val_acc": [0.0, VAL_ACC_EPOCH1[seed], 90.0], "test_acc": [0.0, 50.0 + seed, 90.0 + shift],
              "grad_abs": [None, {"all": 0.002}, {"all": 0.001}],
              "param_change": [None, {"all": 0.01}, {"all": 0.005}],
              "test_acc_op": [[0.0] * 5, [50.0] * 5, op_acc]}
    return {"test_acc": 90.0 + seed + shift,
            "test_acc_op": dict(zip(("First", "Second", "Last", "Max", "Min"), op_acc)),
            "cpu_s": 10.0 + seed, "wall_s": 12.0, "steps": 200, "n_params": 102676, "batch_size": 10, "epochs": 2,
            "time_to_95": {"cpu_s": None}, "time_to_99": {"cpu_s": None},
            "train_config": {"lr": 1e-3, "optimizer": "adam", "betas": [0.9, 0.999], "weight_decay": 0.0},
            "record": {"curves": curves, "confusion": {"op": confusion}}}


def run(cell: str, seed: int, metrics: dict) -> dict:
    return {"cell": cell, "seed": seed, "status": "done", "metrics": metrics}


@pytest.fixture
def results() -> dict:
    cells = {"baseline-seed": {}, "baseline-disjoint": {}, "headline-seed-r0": {"split": "seed", "batch_size": 10,
             "train": {"schedule": "cosine", "warmup_epochs": 1}}, "headline-disjoint-r0": {},
             "size-1000": {"n_train": 1000, "split": "seed"},
             "lr-0.1": {"train": {"lr": 0.1}}, "ablate-no-ffn": {"model": {"ffn": False}}}
    runs = [run(c, s, baseline_metrics(s, c.endswith("disjoint"))) for c in ("baseline-seed", "baseline-disjoint")
            for s in range(3)]
    # Headline: seed 1 never reaches 95%; the disjoint split lacks seed 2, so two pairs give the difference.
    runs += [run("headline-seed-r0", s, {"test_acc": 99.0 + s, "cpu_s": 5.0, "wall_s": 6.0,
                                         "time_to_95": {"cpu_s": None if s == 1 else 2.0 + 2 * s},
                                         "time_to_99": {"cpu_s": None}}) for s in range(3)]
    runs += [run("headline-disjoint-r0", s, {"test_acc": 97.0, "cpu_s": 5.0, "wall_s": 6.0,
                                             "time_to_95": {"cpu_s": 3.0}, "time_to_99": {"cpu_s": 4.0}})
             for s in range(2)]
    runs += [run("size-1000", s, {"test_acc": 80.0 + 2 * s, "steps": 100}) for s in range(3)]
    runs += [run("ablate-no-ffn", s, {"test_acc": 99.0, "steps": 100}) for s in range(3)]
    return {"config": CONFIG, "cells": [{"name": n, "params": p} for n, p in cells.items()], "runs": runs}


def by_title(tabs) -> dict:
    return {t.title.split(":")[0].split(" at ")[0]: t for t in tabs}


def row(table, first) -> list:
    return next(r for r in table.rows if r[0] == first)


def test_measured_gives_mean_and_interval_and_counts_missing_values():
    assert measured([60.0, 70.0, 80.0], ".1f") == "70.0 [60.0, 80.0]"
    assert measured([5.0], ".1f") == "5.0"
    assert measured([1.0, 3.0, math.nan], ".1f", "never reached") == "2.0 [1.0, 3.0] (1 of 3 never reached)"
    assert measured([math.nan, math.nan], ".1f") == "not reached" and measured([], ".1f") == "—"


def test_tables_put_known_seed_values_in_the_right_rows(results):
    tabs = by_title(tables(results))
    assert set(tabs) == {"The source document's per-epoch table", "Per-op test accuracy",
                         "Per-op test accuracy during training", "Which op's answer was given, epoch 2 test (%)",
                         "Mean |parameter change| per epoch", "Sweeps", "Headline",
                         "The source document's hyperparameters and this run's"}  # no gen-* cell: no table
    epochs = tabs["The source document's per-epoch table"]
    assert row(epochs, 1)[1:] == ["2.87", "1.000 [1.000, 1.000]", "2.89", "1.100 [1.100, 1.100]", "8",
                                  "70.0 [60.0, 80.0]", "0.0067", "0.002 [0.002, 0.002]", 3]
    assert row(epochs, 0)[8] == "—"  # no gradient before the first step
    assert row(epochs, "2 (this run's last)")[6] == "90.0 [90.0, 90.0]"
    assert row(epochs, 5)[2] == row(epochs, 50)[6] == "not reached"
    per_op = tabs["Per-op test accuracy"]
    assert row(per_op, "Max") == ["Max", 92, "92.0 [90.0, 94.0]", "92.0 [90.0, 94.0]"]
    assert per_op.title == "Per-op test accuracy at epoch 2 (the source document's: 50)"
    confusion = tabs["Which op's answer was given, epoch 2 test (%)"]
    assert confusion.rows[7][2:] == ["0.0 [0.0, 0.0]"] * 3 + ["91.0 [90.0, 92.0]", "9.0 [8.0, 10.0]", "0.0 [0.0, 0.0]"]


def test_sweeps_and_headline_skip_missing_cells_and_pair_seeds(results):
    tabs = by_title(tables(results))
    sweeps = tabs["Sweeps"]
    assert [r[0] for r in sweeps.rows] == ["baseline-seed at epoch 1", "size-1000", "ablate-no-ffn"]  # lr-0.1 never ran
    assert row(sweeps, "baseline-seed at epoch 1")[2:] == [100, "78", "51.0 [50.0, 52.0]", 3]
    assert row(sweeps, "size-1000")[1:] == ["1,000 training rows", 100, "78", "82.0 [80.0, 84.0]", 3]
    assert row(sweeps, "ablate-no-ffn")[1:4] == ["ffn False", 100, "68"]
    head = {(r[0], r[1]): r[3:] for r in tabs["Headline"].rows}
    assert head[("headline", "test accuracy (%), source-document split")] == ["100.0 [99.0, 101.0]", 3]
    assert head[("headline", "test accuracy, source-document split minus disjoint (points)")] == ["2.5 [2.0, 3.0]", 2]
    assert head[("headline", "CPU s to 95% val accuracy, source-document split")] == [
        "4.0 [2.0, 6.0] (1 of 3 never reached)", 3]
    assert head[("the source document's", "test accuracy, source-document split minus disjoint (points)")] == [
        "1.0 [1.0, 1.0]", 3]
    assert head[("the source document's", "CPU s to 99% val accuracy, disjoint split")] == ["never reached", 3]
    assert "schedule cosine, warmup_epochs 1" in tabs["Headline"].note


def test_a_run_with_only_some_parts_gives_only_their_tables(results):
    only_sweeps = {**results, "runs": [r for r in results["runs"] if r["cell"] in ("size-1000", "ablate-no-ffn")]}
    tabs = TrainingDynamics().tables(only_sweeps)
    assert [t.title for t in tabs] == ["Sweeps: one factor of the source document's recipe changed, test accuracy"]
    assert [r[0] for r in tabs[0].rows] == ["size-1000", "ablate-no-ffn"]  # no baseline: no reference row
    assert TrainingDynamics().tables({**results, "runs": []}) == []


def test_generalization_table_reads_the_gen_cells(results):
    probes = {"test_acc": 96.0, "pos_encoding": "sinusoidal",
              "orderings": {"seen": {"acc": 99.0}, "reordered": {"acc": 95.0}, "unseen": {"acc": 90.0}},
              "middle": {"agree_distinct": {"median": 33.0}}, "lengths": {"2": {"acc": 80.0}},
              "edge": {"by_op": {op: {"all-equal": {"acc": acc}} for op, acc in
                                 zip(("First", "Second", "Last", "Max", "Min"), (100, 100, 100, 50, 50))}}}
    long = {"curve": {"epoch": [1.0, 2.0], "train_eval_loss": [0.2, 0.1], "val_eval_loss": [0.25, 0.4]}}
    gen = {**results, "cells": results["cells"] + [{"name": "gen-seed-split", "params": {}},
                                                    {"name": "gen-long-seed-split", "params": {}}],
           "runs": results["runs"] + [run("gen-seed-split", s, probes) for s in range(3)]
           + [run("gen-long-seed-split", 0, long)]}
    table = by_title(tables(gen))["Generalization"]
    rows = {(r[0], r[1]): r[3:] for r in table.rows}
    assert rows[("gen-seed-split", "test rows seen in training (%)")] == ["99.0 [99.0, 99.0]", 3]
    assert rows[("gen-seed-split", "all-equal arguments, e.g. Max(0,0,0), mean over ops (%)")][0].startswith("80.0 ")
    assert rows[("gen-seed-split", "2 arguments, trained on 3, sinusoidal positions (%)")] == ["80.0 [80.0, 80.0]", 3]
    assert rows[("gen-long-seed-split", "val minus train loss (eval mode), epoch 2")] == ["0.300", 1]
    assert not any(r[0].startswith(("gen-disjoint", "gen-held-out")) for r in table.rows)  # cells that did not run
