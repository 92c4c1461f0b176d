"""`blocklab run --backend ray`: the pairs run as tasks on a local Ray the test starts, and the
results are those of the sequential backend; resume, failures and the time table as well."""
from __future__ import annotations

import json
import sys

import pytest
import ray

from blocklab.errors import BlocklabError
from blocklab.lab.runner import run_study
from blocklab.report import results as res

from . import tiny_study
from .tiny_study import LRS, TinyStudy, run_cli


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # The workers cannot import the tests' modules: the test study travels by value, as it is at submission.
    ray.cloudpickle.register_pickle_by_value(tiny_study)
    yield
    ray.cloudpickle.unregister_pickle_by_value(tiny_study)
    ray.shutdown()


def _without_seconds(runs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "traceback")} for r in runs]


def _events(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def _pairs_run(folder) -> list[tuple[str, int]]:
    return sorted((e["cell"], e["seed"]) for e in _events(folder) if e["event"] == "pair")


def test_ray_writes_the_results_of_the_sequential_backend(tiny, local_ray, tmp_path):
    seq = res.load(run_study("tiny", seeds=3, quick=True, out=tmp_path / "seq") / "results.json")
    on_ray = res.load(run_study("tiny", seeds=3, quick=True, out=tmp_path / "ray", backend="ray") / "results.json")
    assert TinyStudy.calls == [(f"lr={lr}", s) for s in range(3) for lr in LRS]  # the driver ran only the sequential
    assert _without_seconds(on_ray["runs"]) == _without_seconds(seq["runs"])  # same metrics, statuses, same order
    assert {r["status"] for r in on_ray["runs"]} == {"done", "diverged"}
    for key in ("aggregates", "complete", "seeds", "cells", "config"):
        assert on_ray[key] == seq[key], key
    assert [{**m, "command": ""} for m in on_ray["measurements"]] == [{**m, "command": ""} for m in seq["measurements"]]
    assert on_ray["timing"]["wall"] > 0
    # the workers' step events reach metrics.jsonl: the same events, only written when each pair ends
    def steps(folder):
        return sorted(json.dumps(e, sort_keys=True) for e in _events(folder) if e["event"] == "step")
    assert steps(tmp_path / "ray") == steps(tmp_path / "seq") and steps(tmp_path / "seq")


def test_ray_runs_only_the_pairs_a_folder_lacks(tiny, local_ray, tmp_path):
    run_study("tiny", seeds=2, quick=True, out=tmp_path)
    run_study("tiny", seeds=3, quick=True, out=tmp_path, backend="ray")
    assert _pairs_run(tmp_path) == sorted((f"lr={lr}", s) for lr in LRS for s in range(3))  # each pair once
    run_study("tiny", seeds=3, quick=True, out=tmp_path, backend="ray")
    assert len(_pairs_run(tmp_path)) == 3 * len(LRS)  # a finished folder submits nothing


def test_a_failing_pair_is_recorded_as_sequential_does_and_retried(tiny, local_ray, tmp_path, monkeypatch):
    monkeypatch.setattr(TinyStudy, "fail", ("lr=0.5", 1))
    seq = res.load(run_study("tiny", seeds=2, quick=True, out=tmp_path / "seq") / "results.json")
    on_ray = res.load(run_study("tiny", seeds=2, quick=True, out=tmp_path / "ray", backend="ray") / "results.json")
    assert _without_seconds(on_ray["runs"]) == _without_seconds(seq["runs"])
    failed = [r for r in on_ray["runs"] if r["status"] == "failed"]
    assert [(r["cell"], r["seed"], r["message"]) for r in failed] == [("lr=0.5", 1, "RuntimeError: broken on purpose")]
    assert "broken on purpose" in (tmp_path / "ray" / "log.txt").read_text()  # the worker's log line, in log.txt
    monkeypatch.setattr(TinyStudy, "fail", None)
    run_study("tiny", seeds=2, quick=True, out=tmp_path / "ray", backend="ray")
    assert _pairs_run(tmp_path / "ray").count(("lr=0.5", 1)) == 2  # failed once, then retried; the rest ran once
    assert res.load(tmp_path / "ray" / "results.json")["complete"]


def test_the_cli_runs_on_ray_and_prints_the_time_table(tiny, local_ray, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "run", "tiny", "--quick", "--seeds", "1", "--backend", "ray", "--out", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    header, row, total = lines[lines.index(next(x for x in lines if x.startswith("study "))):][:3]
    assert header.split() == ["study", "status", "wall", "s", "done", "diverged", "failed"]
    assert row.split()[:2] == ["tiny", "complete"] and row.split()[3:] == ["2", "1", "0"]
    assert float(row.split()[2]) == pytest.approx(res.load(tmp_path / "results.json")["timing"]["wall"], abs=0.05)
    assert total.startswith("total ") and total.endswith("s wall for 1 study")


def test_a_missing_ray_or_a_wrong_backend_is_a_clear_error(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(BlocklabError, match=r"pip install 'blocklab\[ray\]'"):
        run_study("tiny", seeds=1, quick=True, out=tmp_path, backend="ray")
    with pytest.raises(BlocklabError, match="backend='dask' is not valid; choose one of: 'local', 'ray'"):
        run_study("tiny", seeds=1, quick=True, out=tmp_path, backend="dask")
    code, _, err = run_cli(capsys, "run", "tiny", "--quick", "--address", "auto", "--out", str(tmp_path))
    assert code == 2 and "add --backend ray" in err


def test_no_cluster_at_the_address_is_a_clear_error(tiny, tmp_path, capsys, monkeypatch):
    def no_cluster(address, **_):  # what ray.init raises when no cluster answers at `address`
        raise ConnectionError(f"Could not find any running Ray instance at {address}.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_cluster)
    code, _, err = run_cli(capsys, "run", "tiny", "--quick", "--backend", "ray", "--address", "10.0.0.1:6379",
                           "--out", str(tmp_path))
    assert code == 2 and "--address '10.0.0.1:6379': Could not find any running Ray instance" in err
