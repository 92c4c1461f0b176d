"""`blocklab run` killed with SIGKILL in the middle of a pair's training, then run again: the pair resumes from
its last checkpoint and ends exactly where an uninterrupted run ends.

The study is length-generalization cut to one tiny cell (sortedness without positions), trained by the real
trainer; checkpoints every 5 steps make a mid-run checkpoint appear within a fraction of a second."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from blocklab.lab.runner import run_study
from blocklab.report import results as res

STUDY, CELL = "length-generalization", "sortedness-none"
SETS = {"tasks": ["sortedness"], "sortedness_encodings": ["none"], "train_lengths": [4, 5], "test_lengths": [4],
        "n_train": 64, "n_val": 16, "n_eval": 8, "width": 8, "layers": 1, "heads": 2, "train.steps": 150,
        "train.eval_every": 50, "train.checkpoint_every": 5}
VOLATILE = ("train_cpu_s",)  # process time: the resumed run counts only its own part


def command(out: Path) -> list[str]:
    args = [sys.executable, "-m", "blocklab.cli", "run", STUDY, "--quick", "--seeds", "1", "--jobs", "1",
            "--out", str(out)]
    for key, value in SETS.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    return args


def mid_run_step(state_json: Path) -> int | None:
    """The step of a committed checkpoint of the unfinished run, if one is there."""
    try:
        state = json.loads(state_json.read_text())
    except (OSError, ValueError):  # not yet written
        return None
    return state["step"] if state["result"] is None and state["step"] > 0 else None


def kill_mid_training(out: Path, env: dict) -> int:
    state_json = out / "work" / CELL / "seed0" / "checkpoint" / "state.json"
    proc = subprocess.Popen(command(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while (step := mid_run_step(state_json)) is None:
            assert proc.poll() is None, f"the run ended before a mid-run checkpoint: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no mid-run checkpoint after 120 s"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    return step


def final_checkpoint(out: Path) -> dict:
    return json.loads((out / "work" / CELL / "seed0" / "checkpoint" / "state.json").read_text())


def test_a_run_killed_mid_training_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_run(tmp_path):
    env = {**os.environ, "BLOCKLAB_NO_PROGRESS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    killed_at = kill_mid_training(tmp_path / "killed", env)
    assert res.load(tmp_path / "killed" / "results.json")["runs"] == []  # the pair was in flight

    rerun = subprocess.run(command(tmp_path / "killed"), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    log = (tmp_path / "killed" / "log.txt").read_text()
    resumed_at = int(re.search(rf"{CELL} seed 0 resumes from its checkpoint at step (\d+)", log).group(1))
    assert 0 < killed_at <= resumed_at < SETS["train.steps"]  # SIGKILL may land after a later checkpoint

    run_study(STUDY, seeds=1, quick=True, out=tmp_path / "straight", overrides=SETS)
    straight, resumed = (res.load(tmp_path / name / "results.json") for name in ("straight", "killed"))
    assert resumed["complete"] and [r["status"] for r in resumed["runs"]] == ["done"]

    def metrics(results):
        return [{k: v for k, v in r["metrics"].items() if k not in VOLATILE} for r in results["runs"]]
    assert metrics(resumed) == metrics(straight)
    assert resumed["aggregates"]["sortedness-none"]["acc.4"] == straight["aggregates"]["sortedness-none"]["acc.4"]
    ends = [final_checkpoint(tmp_path / name) for name in ("straight", "killed")]
    assert ends[0]["files"] == ends[1]["files"]  # sha256 of the weights and the optimizer state: bit for bit
    assert ends[0]["result"]["history"] == ends[1]["result"]["history"]
    assert ends[1]["result"]["notes"] == [f"resumed from a checkpoint at step {resumed_at}"]
