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
from lab.tiny_study import run_cli


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
    ("{not json", "corrupt"), ("[1, 2]", "the top level is [1, 2]; it must be an object"),
    ('{"schema": 1}', "'study' is missing"), (b"\xff\xfe{}", "not UTF-8"), ('{"schema": 7}', "schema 7"),
])
def test_bad_files_raise_an_error_naming_the_file(tmp_path, text, words):
    path = tmp_path / "results.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(BlocklabError) as e:
        res.load(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_an_unknown_run_status_is_rejected(tiny, tmp_path):
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    r = res.load(tmp_path / "results.json")
    r["runs"][0]["status"] = "finished"
    words = "runs\\[0\\].status is \"finished\"; it must be one of: 'done', 'diverged', 'failed'"
    with pytest.raises(BlocklabError, match=words):
        res.save(r, tmp_path / "results.json")


@pytest.mark.parametrize("where, value, words", [
    (("measurements",), [42], "measurements[0] is 42; it must be an object"),
    (("runs", 0, "metrics"), 5, "runs[0].metrics is 5; it must be an object"),
    (("runs", 0, "seed"), -1, "runs[0].seed is -1; it must be an integer >= 0"),
    (("seeds",), [0, "1"], 'seeds[1] is "1"; it must be an integer >= 0'),
    (("cells", 0), {"name": "a"}, "cells[0]: the field 'params' is missing"),
    (("aggregates", "lr=0.1", "a"), {"mean": "x", "ci_low": None, "ci_high": None, "n": 1},
     "aggregates['lr=0.1'].a.mean is \"x\"; it must be a number or null"),
    (("figures",), "a.png", 'figures is "a.png"; it must be a list of strings'),
    (("timing", "seconds"), [], "timing.seconds is []; it must be a number"),
])
def test_the_whole_schema_is_checked_on_load_and_the_cli_names_the_json_path(tiny, tmp_path, capsys, where, value,
                                                                             words):
    """WHAT: a results.json whose top-level fields are all there but which holds a wrong value deeper down is
    refused by load, and by `blocklab report` and `plot` with exit 2 and one line naming the file and the JSON path.
    WHY: load() used to check only the top-level keys, so `"measurements": [42]` or a run's `metrics: 5` reached
    the report and ended in a TypeError traceback (issue 15, defect 15)."""
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    path = tmp_path / "results.json"
    r = json.loads(path.read_text())
    r["measurements"].append(dict(r["measurements"][0]))  # so that measurements[0] exists whatever the test sets
    parent = r
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    path.write_text(json.dumps(r))
    with pytest.raises(BlocklabError) as e:
        res.load(path)
    assert str(e.value) == f"{path} is not a blocklab results file: {words}"
    for verb in ("report", "plot"):
        code, out, err = run_cli(capsys, verb, str(tmp_path))
        assert code == 2 and err == f"error: {path} is not a blocklab results file: {words}\n", (verb, err)


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
