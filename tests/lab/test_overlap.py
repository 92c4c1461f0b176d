"""`blocklab run all --jobs N`: two studies in flight on one worker pool (lab/overlap.py). Each study's
results.json, metrics.jsonl and log.txt hold what a sequential run writes; the next study trains while one
draws its figures; a study that stops with an error is kept and the others go on; Ctrl-C stops every study in
flight and a rerun resumes. Worker processes rebuild a study from its class, so the variants are classes here."""
from __future__ import annotations

import _thread
import json
import logging
import threading
import time

import pytest

from blocklab.lab import registry
from blocklab.lab.runner import run_study
from blocklab.report import results as res

from .tiny_study import LRS, TinyStudy


class Logged(TinyStudy):
    """Logs from its measure() through a module logger under blocklab.studies, as a study's helper module would,
    and notes the driver thread that measured it."""

    name = "tiny-logged"
    threads: list[str] = []

    def measure(self, results):
        type(self).threads.append(threading.current_thread().name)
        logging.getLogger("blocklab.studies.tiny_helpers").info("measured %s", self.name)
        return super().measure(results)


class LoggedFailing(Logged):
    name = "tiny-failing"
    fail = ("lr=0.5", 0)


class WaitsForTheNext(TinyStudy):
    """Draws its figures only once the next study has measured: that is, trained all its pairs meanwhile."""

    name = "tiny-waits"
    next_measured = threading.Event()

    def figures(self, results, fig_dir):
        assert self.next_measured.wait(20), "the next study did not train while this one drew its figures"
        return []


class SignalsMeasured(TinyStudy):
    name = "tiny-next"

    def measure(self, results):
        WaitsForTheNext.next_measured.set()
        return super().measure(results)


class BrokenFigures(TinyStudy):
    name = "tiny-broken"

    def figures(self, results, fig_dir):
        raise RuntimeError("a bug in figures")


class InterruptsMain(TinyStudy):
    """Ctrl-C while it draws its figures: KeyboardInterrupt in the main thread, as the terminal sends it."""

    name = "tiny-interrupts"

    def figures(self, results, fig_dir):
        _thread.interrupt_main()
        time.sleep(0.5)  # the main thread stops the pool meanwhile
        return []


class Slow(TinyStudy):
    """Pairs of about 0.6 s, still training when the study before it is interrupted."""

    name = "tiny-slow"

    def run_cell(self, cell, seed, ctx):
        ctx.progress = _slowed(ctx.progress)
        return super().run_cell(cell, seed, ctx)


def _slowed(progress):
    def slowed(step, total, info=None):
        time.sleep(0.01)
        progress(step, total, info)
    return slowed


def _only(monkeypatch, *classes) -> None:
    """The registry holds only `classes` (the `tiny` fixture has emptied it), in this order."""
    monkeypatch.setattr(registry, "STUDIES", {})
    for c in classes:
        registry.register(c)


def _events(folder) -> list[str]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return sorted(json.dumps({k: v for k, v in e.items() if k not in ("seconds", "traceback")}, sort_keys=True)
                  for e in map(json.loads, lines))


def _log(folder) -> list[str]:
    """log.txt's lines without their time stamps (its first two words), sorted: workers send a unit's lines
    when it ends."""
    return sorted(line.split(" ", 2)[2] for line in (folder / "log.txt").read_text().splitlines())


def _results(folder) -> dict:
    r = res.load(folder / "results.json")
    return {"runs": [{k: v for k, v in x.items() if k not in ("seconds", "traceback")} for x in r["runs"]],
            "measurements": [{**m, "command": ""} for m in r["measurements"]],
            **{k: r[k] for k in ("aggregates", "complete", "seeds", "cells", "config", "figures")},
            "error": r.get("error")}


def test_each_study_of_a_group_writes_what_a_sequential_run_writes(tiny, tmp_path, monkeypatch):
    _only(monkeypatch, Logged, LoggedFailing)
    monkeypatch.setattr(Logged, "threads", [])
    run_study("all", seeds=1, quick=True, out=tmp_path / "one")
    assert Logged.threads == ["MainThread", "MainThread"]  # --jobs 1: one study after another, as before
    run_study("all", seeds=1, quick=True, out=tmp_path / "two", jobs=2)
    assert all(t.startswith("blocklab-study") for t in Logged.threads[2:]) and len(Logged.threads) == 4
    for name in ("tiny-logged", "tiny-failing"):
        one, two = tmp_path / "one" / name, tmp_path / "two" / name
        assert _results(two) == _results(one), name
        assert _events(two) == _events(one), name
        assert _log(two) == _log(one), name
    # each log holds its own study's lines only, those of its module loggers included
    assert "blocklab.studies.tiny_helpers INFO measured tiny-logged" in _log(tmp_path / "two" / "tiny-logged")
    assert not any("tiny-failing" in line or "failed" in line for line in _log(tmp_path / "two" / "tiny-logged"))
    failing = _log(tmp_path / "two" / "tiny-failing")
    assert "blocklab.studies.tiny-failing ERROR lr=0.5 seed 0 failed: RuntimeError: broken on purpose" in failing
    assert "blocklab.studies.tiny_helpers INFO measured tiny-failing" in failing


def test_the_next_study_trains_while_one_draws_its_figures_and_one_that_stops_is_kept(tiny, tmp_path, monkeypatch):
    _only(monkeypatch, WaitsForTheNext, SignalsMeasured, BrokenFigures, TinyStudy)
    monkeypatch.setattr(WaitsForTheNext, "next_measured", threading.Event())
    run_study("all", seeds=1, quick=True, out=tmp_path, jobs=2)  # the error is kept, so the group does not raise
    broken = res.load(tmp_path / "tiny-broken" / "results.json")
    assert broken["error"] == "RuntimeError: a bug in figures" and len(broken["runs"]) == len(LRS)
    assert "Traceback" in (tmp_path / "tiny-broken" / "log.txt").read_text()
    for name in ("tiny-waits", "tiny-next", "tiny"):  # before, beside and after the study that stopped
        r = res.load(tmp_path / name / "results.json")
        assert r["complete"] and "error" not in r, name
        assert "a bug in figures" not in (tmp_path / name / "log.txt").read_text(), name


def test_ctrl_c_stops_every_study_in_flight_and_a_rerun_resumes(tiny, tmp_path, monkeypatch):
    _only(monkeypatch, InterruptsMain, Slow, TinyStudy)
    with pytest.raises(KeyboardInterrupt):
        run_study("all", seeds=1, quick=True, out=tmp_path, jobs=2)
    slow = res.load(tmp_path / "tiny-slow" / "results.json")
    assert not slow["complete"] and len(slow["runs"]) < len(LRS)  # stopped in flight
    assert "interrupted; " in (tmp_path / "tiny-slow" / "log.txt").read_text()
    tiny = tmp_path / "tiny" / "results.json"
    assert not tiny.exists() or not res.load(tiny)["complete"]  # not started, or stopped in flight
    assert res.load(tmp_path / "tiny-interrupts" / "results.json")["complete"]

    monkeypatch.setattr(InterruptsMain, "figures", TinyStudy.figures)
    run_study("all", seeds=1, quick=True, out=tmp_path)  # in this process, where nothing interrupts
    runs = {name: _results(tmp_path / name)["runs"] for name in ("tiny-interrupts", "tiny-slow", "tiny")}
    assert all(r["status"] in ("done", "diverged") for rs in runs.values() for r in rs)
    # the slow study's pairs, resumed or rerun, end where the same pairs run without a stop end
    without_resume = {name: [{**r, "metrics": {**r["metrics"], "resumed_from": 0}} for r in rs]
                      for name, rs in runs.items()}
    assert len(runs["tiny"]) == len(LRS) and without_resume["tiny-slow"] == without_resume["tiny"]
