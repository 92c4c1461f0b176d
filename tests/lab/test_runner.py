"""The runner: results.json contents, skip, resume, failures, refusal of a changed config."""
from __future__ import annotations

import json
import shlex

import pytest

from blocklab.errors import BlocklabError
from blocklab.lab import registry
from blocklab.lab.runner import run_study
from blocklab.report import results as res
from blocklab.report.stats import mean_ci

from .tiny_study import LRS, TinyStudy, run_cli

PAIRS = 3 * len(LRS)  # three seeds


def test_a_run_writes_everything_the_schema_promises(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(TinyStudy, "draw", True)
    folder = run_study("tiny", seeds=3, quick=True, out=tmp_path / "run")
    r = res.load(folder / "results.json")
    assert r["study"] == "tiny" and r["quick"] and r["config"]["steps"] == 60 and r["seeds"] == [0, 1, 2]
    assert set(r["versions"]) == {"python", "torch", "numpy", "blocklab"}
    assert r["commit"] and r["device"] == "cpu" and r["complete"]
    statuses = {(x["cell"], x["seed"]): x["status"] for x in r["runs"]}
    assert len(statuses) == PAIRS
    assert {s for (c, _), s in statuses.items() if c == "lr=4.0"} == {"diverged"}
    assert {s for (c, _), s in statuses.items() if c != "lr=4.0"} == {"done"}
    # aggregates are the t-interval of exactly the per-seed values
    values = [x["metrics"]["a"] for x in sorted(r["runs"], key=lambda x: x["seed"]) if x["cell"] == "lr=0.5"]
    assert r["aggregates"]["lr=0.5"]["a"] == mean_ci(values).to_dict()
    assert r["aggregates"]["lr=4.0"]["diverged"]["mean"] == 1.0
    assert r["figures"] == ["tiny_curves.png", "tiny_bars.png", "tiny_heatmap.png"]
    assert all((folder / "figures" / f).stat().st_size > 1000 for f in r["figures"])
    assert {m["claim_id"] for m in r["measurements"]} == {"C000-01", "C000-08"}
    assert all(m["command"] == r["command"] for m in r["measurements"])
    events = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "pair" for e in events) == PAIRS
    assert any(e["event"] == "step" and "loss" in e for e in events)


def test_a_second_run_recomputes_nothing(tiny, tmp_path):
    run_study("tiny", seeds=3, quick=True, out=tmp_path)
    first = res.load(tmp_path / "results.json")["runs"]
    assert len(TinyStudy.calls) == PAIRS
    run_study("tiny", seeds=3, quick=True, out=tmp_path)
    assert len(TinyStudy.calls) == PAIRS  # no new call
    assert res.load(tmp_path / "results.json")["runs"] == first


def test_more_seeds_later_runs_only_the_new_seeds(tiny, tmp_path):
    run_study("tiny", seeds=2, quick=True, out=tmp_path)
    TinyStudy.calls.clear()
    run_study("tiny", seeds=3, quick=True, out=tmp_path)
    assert sorted(TinyStudy.calls) == sorted((f"lr={lr}", 2) for lr in LRS)
    assert res.load(tmp_path / "results.json")["seeds"] == [0, 1, 2]


def test_an_interrupt_keeps_finished_pairs_and_a_rerun_finishes(tiny, tmp_path, monkeypatch):
    original = TinyStudy.run_cell

    def interrupt_after_first(self, cell, seed, ctx):
        if TinyStudy.calls:
            raise KeyboardInterrupt
        return original(self, cell, seed, ctx)

    monkeypatch.setattr(TinyStudy, "run_cell", interrupt_after_first)
    with pytest.raises(KeyboardInterrupt):
        run_study("tiny", seeds=3, quick=True, out=tmp_path)
    saved = res.load(tmp_path / "results.json")
    assert [(x["cell"], x["seed"], x["status"]) for x in saved["runs"]] == [("lr=0.1", 0, "done")]
    assert not saved["complete"]

    monkeypatch.setattr(TinyStudy, "run_cell", original)
    TinyStudy.calls.clear()
    run_study("tiny", seeds=3, quick=True, out=tmp_path)
    assert len(TinyStudy.calls) == PAIRS - 1 and ("lr=0.1", 0) not in TinyStudy.calls
    final = res.load(tmp_path / "results.json")
    assert final["complete"] and final["runs"][0] == saved["runs"][0]


def test_an_interrupted_pair_resumes_from_its_checkpoint_with_the_same_result(tiny, tmp_path, monkeypatch):
    run_study("tiny", seeds=1, out=tmp_path / "straight")
    monkeypatch.setattr(TinyStudy, "interrupt_at", 120)  # after the checkpoint at step 100
    with pytest.raises(KeyboardInterrupt):
        run_study("tiny", seeds=1, out=tmp_path / "broken")
    monkeypatch.setattr(TinyStudy, "interrupt_at", None)
    run_study("tiny", seeds=1, out=tmp_path / "broken")

    straight = {x["cell"]: x["metrics"] for x in res.load(tmp_path / "straight" / "results.json")["runs"]}
    resumed = {x["cell"]: x["metrics"] for x in res.load(tmp_path / "broken" / "results.json")["runs"]}
    assert resumed["lr=0.1"].pop("resumed_from") == 100  # the work folder was the same one
    assert straight["lr=0.1"].pop("resumed_from") == 0
    assert resumed == straight


def test_a_failing_pair_is_recorded_the_others_finish_and_a_rerun_retries_it(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(TinyStudy, "fail", ("lr=0.5", 1))
    run_study("tiny", seeds=2, quick=True, out=tmp_path)
    r = res.load(tmp_path / "results.json")
    failed = [x for x in r["runs"] if x["status"] == "failed"]
    assert [(x["cell"], x["seed"]) for x in failed] == [("lr=0.5", 1)]
    assert failed[0]["message"] == "RuntimeError: broken on purpose" and "Traceback" in failed[0]["traceback"]
    assert len(r["runs"]) == 2 * len(LRS) and not r["complete"]
    assert r["aggregates"]["lr=0.5"]["a"]["n"] == 1  # only the finished seed counts
    assert "broken on purpose" in (tmp_path / "log.txt").read_text()

    monkeypatch.setattr(TinyStudy, "fail", None)
    TinyStudy.calls.clear()
    run_study("tiny", seeds=2, quick=True, out=tmp_path)
    assert TinyStudy.calls == [("lr=0.5", 1)]
    assert res.load(tmp_path / "results.json")["complete"]


def test_a_changed_config_is_refused_with_a_hint(tiny, tmp_path):
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    with pytest.raises(BlocklabError) as e:
        run_study("tiny", seeds=1, quick=True, out=tmp_path, overrides={"slope": 5.0})
    assert "slope: stored 3.0, asked 5.0" in str(e.value) and "--out" in str(e.value)


def test_the_recorded_command_reproduces_the_run(tiny, tmp_path, capsys):
    run_study("tiny", seeds=2, quick=True, out=tmp_path / "x", overrides={"slope": 2, "label": "a b"})
    command = res.load(tmp_path / "x" / "results.json")["command"]
    assert command.startswith("blocklab run tiny --seeds 2 --quick")
    TinyStudy.calls.clear()
    code, out, err = run_cli(capsys, *shlex.split(command)[1:])
    assert code == 0, err
    assert TinyStudy.calls == []  # same config, same folder: everything was already there


def test_a_group_runs_its_members_into_subfolders(tiny, tmp_path):
    class TinyA(TinyStudy):
        name = "tiny-a"
        group = "building-blocks"

    class TinyB(TinyStudy):
        name = "tiny-b"
        group = "building-blocks"

    registry.register(TinyA)
    registry.register(TinyB)
    folder = run_study("building-blocks", seeds=1, quick=True, out=tmp_path, overrides={"tiny-b.slope": 2.0})
    assert [p.parent.name for p in res.find_results(folder)] == ["tiny-a", "tiny-b"]
    assert res.load(tmp_path / "tiny-b" / "results.json")["config"]["slope"] == 2.0
    assert len(res.find_results(run_study("all", seeds=1, quick=True, out=tmp_path / "all"))) == 3
    with pytest.raises(BlocklabError, match="<study>.<key>; studies: tiny-a, tiny-b"):
        run_study("building-blocks", seeds=1, quick=True, out=tmp_path, overrides={"slope": 2.0})
    TinyStudy.calls.clear()
    with pytest.raises(BlocklabError, match="stepz"):  # caught before the first member runs
        run_study("building-blocks", seeds=1, quick=True, out=tmp_path / "typo", overrides={"tiny-b.stepz": 1})
    assert TinyStudy.calls == []


def test_a_group_with_no_members_says_so(tiny):
    with pytest.raises(BlocklabError, match="no registered studies"):
        run_study("building-blocks", seeds=1)
