"""results.json: strict JSON on disk, validation that names the file, and writes that are atomic."""
from __future__ import annotations

import json
import math
import os

import pytest

from blocklab.errors import BlocklabError
from blocklab.io import atomic_write_text
from blocklab.lab.runner import run_study
from blocklab.report import results as res


def test_saved_files_are_strict_json_with_null_for_non_finite(tiny, tmp_path):
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    r = res.load(tmp_path / "results.json")
    r["runs"][0]["metrics"]["loss"] = float("nan")
    r["runs"][0]["metrics"]["curve"] = [1.5, float("inf"), -2e-5]
    res.save(r, tmp_path / "results.json")
    text = (tmp_path / "results.json").read_text()
    strict = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert strict["runs"][0]["metrics"]["loss"] is None
    assert strict["runs"][0]["metrics"]["curve"] == [1.5, None, -2e-5]


@pytest.mark.parametrize("text, words", [
    ("{not json", "corrupt"), ("[1, 2]", "JSON object"), ('{"schema": 1}', "'study' is missing"),
])
def test_bad_files_raise_an_error_naming_the_file(tmp_path, text, words):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(BlocklabError) as e:
        res.load(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_an_unknown_run_status_is_rejected(tiny, tmp_path):
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    r = res.load(tmp_path / "results.json")
    r["runs"][0]["status"] = "finished"
    with pytest.raises(BlocklabError, match="'finished' is not one of done, diverged, failed"):
        res.save(r, tmp_path / "results.json")


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic_write_text(path, "old")

    def no_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]


def test_aggregates_reach_into_nested_metrics_and_skip_curves():
    runs = [{"cell": "a", "seed": s, "status": "done",
             "metrics": {"final": {"val_acc": 0.5 + s / 10, "lr": None}, "curve": [1, 2], "acc_at_0.5": s,
                         "diverged": s == 2}} for s in range(3)]
    runs.append({"cell": "a", "seed": 3, "status": "failed", "metrics": {}, "message": "x"})
    r = {"cells": [{"name": "a", "params": {}}], "runs": runs}
    agg = res.aggregate(r)["a"]
    assert sorted(agg) == ["acc_at_0.5", "diverged", "final.val_acc"]
    assert agg["final.val_acc"]["mean"] == pytest.approx(0.6) and agg["final.val_acc"]["n"] == 3
    assert agg["diverged"]["mean"] == pytest.approx(1 / 3)  # a rate over the finished seeds
    assert res.seed_values(r, "a", "final.val_acc") == pytest.approx([0.5, 0.6, 0.7])
    assert res.seed_values(r, "a", "acc_at_0.5") == [0.0, 1.0, 2.0]


def test_per_seed_pairs_cells_by_seed_and_reads_nested_metrics():
    """WHAT: per_seed keys values by seed over finished runs only; dotted paths, "" and numeric.
    WHY: every study's figures, tables and paired differences read metrics through it."""
    runs = [
        {"cell": "a", "seed": 2, "status": "done", "metrics": {"final": {"acc": 80}, "acc_at_0.5": 1.5}},
        {"cell": "a", "seed": 0, "status": "diverged", "metrics": {"final": {"acc": None}}},
        {"cell": "a", "seed": 1, "status": "failed", "metrics": {"final": {"acc": 99}}},
        {"cell": "b", "seed": 0, "status": "done", "metrics": {"final": {"acc": 70}}},
    ]
    results = {"runs": runs}
    assert res.per_seed(results, "a", "final.acc") == {0: None, 2: 80}  # seed order; the failed seed 1 is left out
    assert list(res.per_seed(results, "a", "final.acc")) == [0, 2]
    numeric = res.per_seed(results, "a", "final.acc", numeric=True)
    assert numeric[2] == 80.0 and isinstance(numeric[2], float) and math.isnan(numeric[0])
    assert res.per_seed(results, "a", "acc_at_0.5") == {0: None, 2: 1.5}  # a key that itself holds a dot
    assert res.per_seed(results, "a")[2] is runs[0]["metrics"]  # "" gives the whole metrics dict
    assert res.per_seed(results, "a", "final.missing") == {0: None, 2: None}
    seeds = (res.per_seed(results, "a", "final.acc", numeric=True).keys()
             & res.per_seed(results, "b", "final.acc").keys())
    assert seeds == {0}
    values = res.seed_values(results, "a", "final.acc")
    assert math.isnan(values[0]) and values[1] == 80.0 and len(values) == 2
