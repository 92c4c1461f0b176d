"""`blocklab run --jobs N`: pairs run in worker processes and write the results of one process
(same metrics, statuses and step events), a failed pair is recorded and retried, an interrupt
stops the workers and a rerun resumes from their checkpoints.

A worker rebuilds the study from its class, so the tests register variants of the test study
(tiny_study's FailingTiny and InterruptedTiny) instead of patching it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from blocklab.lab import registry
from blocklab.lab.runner import run_study
from blocklab.report import results as res

from .tiny_study import LRS, FailingTiny, InterruptedTiny, TinyStudy, run_cli


def _without_seconds(runs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "traceback")} for r in runs]


def _events(folder, kind: str) -> list[dict]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_jobs_write_the_results_of_one_process_and_retry_a_failed_pair(tiny, tmp_path, capsys, monkeypatch):
    one = res.load(run_study("tiny", seeds=3, quick=True, out=tmp_path / "one") / "results.json")
    calls = list(TinyStudy.calls)

    monkeypatch.setitem(registry.STUDIES, "tiny", FailingTiny)
    code, out, _ = run_cli(capsys, "run", "tiny", "--quick", "--seeds", "2", "--jobs", "2", "--out",
                           str(tmp_path / "n"))
    assert code == 1 and "tiny: 3 done, 2 diverged, 1 failed" in out
    failed = [(r["cell"], r["seed"], r["message"]) for r in res.load(tmp_path / "n" / "results.json")["runs"]
              if r["status"] == "failed"]
    assert failed == [("lr=0.5", 1, "RuntimeError: broken on purpose")]
    assert "lr=0.5 seed 1 failed: RuntimeError: broken on purpose" in (tmp_path / "n" / "log.txt").read_text()

    monkeypatch.setitem(registry.STUDIES, "tiny", TinyStudy)
    many = res.load(run_study("tiny", seeds=3, quick=True, out=tmp_path / "n", jobs=2) / "results.json")
    assert TinyStudy.calls == calls  # the driver ran no pair itself
    assert _without_seconds(many["runs"]) == _without_seconds(one["runs"])  # same metrics, statuses and order
    for key in ("aggregates", "complete", "seeds", "cells", "config"):
        assert many[key] == one[key], key
    assert [{**m, "command": ""} for m in many["measurements"]] == [{**m, "command": ""} for m in one["measurements"]]
    pairs = sorted((e["cell"], e["seed"]) for e in _events(tmp_path / "n", "pair"))
    assert pairs == sorted([(f"lr={lr}", s) for lr in LRS for s in range(3)] + [("lr=0.5", 1)])  # retried once

    def steps(folder):  # the workers' step events reach metrics.jsonl: the same ones, written as each pair ends
        return sorted(json.dumps(e, sort_keys=True) for e in _events(folder, "step"))
    assert steps(tmp_path / "one") and steps(tmp_path / "n") == steps(tmp_path / "one")  # the failure came before any


def test_an_interrupt_stops_the_workers_and_a_rerun_resumes_their_pairs(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.STUDIES, "tiny", InterruptedTiny)
    with pytest.raises(KeyboardInterrupt):
        run_study("tiny", seeds=1, quick=True, out=tmp_path, jobs=2)
    monkeypatch.setitem(registry.STUDIES, "tiny", TinyStudy)
    assert {r["cell"] for r in res.load(tmp_path / "results.json")["runs"]} <= {"lr=4.0"}  # diverges before step 55
    run_study("tiny", seeds=1, quick=True, out=tmp_path)  # in this process, where nothing interrupts
    runs = res.load(tmp_path / "results.json")["runs"]
    resumed = {r["cell"]: r["metrics"]["resumed_from"] for r in runs}
    assert 50 in (resumed["lr=0.1"], resumed["lr=0.5"])  # the pair that was interrupted went on from its checkpoint
    assert all(r["status"] in ("done", "diverged") for r in runs) and len(runs) == len(LRS)


def test_wrong_jobs_are_clear_errors(tiny, tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", "tiny", "--quick", "--jobs", "0", "--out", str(tmp_path))
    assert code == 2 and "Invalid value for '--jobs'" in err and "0 is not in the range 1<=x<=1024" in err
    code, _, err = run_cli(capsys, "run", "tiny", "--quick", "--jobs", "2", "--backend", "ray", "--out", str(tmp_path))
    assert code == 2 and "--jobs 2 runs pairs in processes on this machine; with --backend ray" in err


# A driver with one worker, started as blocklab.lab.processes starts them; it prints the worker's pid and waits.
DRIVER = """
import os, time
from concurrent.futures import ProcessPoolExecutor
from blocklab.lab import processes
context = processes._context(())  # preload no study: this worker runs none
pool = ProcessPoolExecutor(1, mp_context=context, initializer=processes._start_worker, initargs=(None,))
print(pool.submit(os.getpid).result(), flush=True)
pool.submit(time.sleep, 300)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has ended: only its parent has not collected it yet
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc (Linux)")
def test_a_worker_whose_driver_is_killed_stops_instead_of_training_on():
    """SIGKILL gives the driver no chance to stop its workers; one left running would keep writing the checkpoints
    of a pair that the rerun resumes. The worker notices its driver is gone and exits."""
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(driver.stdout.readline())
        assert _alive(worker)
    finally:
        driver.kill()
        driver.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(worker):
        os.kill(worker, signal.SIGKILL)
        pytest.fail(f"worker {worker} still running 10 s after its driver was killed")
