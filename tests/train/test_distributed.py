"""Data-parallel fit: two gloo processes on CPU follow one process with the same global batch.

Both processes join the group the way torchrun makes them (WORLD_SIZE, RANK, MASTER_ADDR,
MASTER_PORT in the environment; `fit` initializes it), train a float64 GPT for a few steps and
write what they saw; the test compares that with a one-process fit of the same config.
"""
from __future__ import annotations

import json
import os
import shutil
import socket

import pytest
import torch
import torch.multiprocessing as mp

from blocklab.errors import BlocklabError
from blocklab.train.checkpoint import read_checkpoint
from blocklab.train.device import cpu_threads
from blocklab.train.trainer import fit

from .helpers import lm_data, lm_loss, quick_cfg, tiny_gpt

WORLD = 2
CFG = {"steps": 8, "batch_size": 12, "eval_every": 4, "log_every": 1, "lr": 1e-2, "device": "cpu",
       "checkpoint_every": 4}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recording(rows: list):
    """lm_loss that keeps the rows of every training batch (evaluation runs without grad)."""
    def loss_fn(model, batch):
        if torch.is_grad_enabled():
            rows.append(batch[0].tolist())
        return lm_loss(model, batch)
    return loss_fn


def _rank_main(rank: int, port: int, out: str) -> None:
    """One process of the group, as torchrun would start it."""
    os.environ.update(WORLD_SIZE=str(WORLD), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    record: dict = {"rows": []}
    try:  # a global batch the processes cannot share evenly is refused before anything trains
        fit(tiny_gpt(0).double(), lm_data(), lm_loss, quick_cfg(**{**CFG, "batch_size": 9}))
    except BlocklabError as err:
        record["error"] = str(err)
    run_dir, resumed_dir = os.path.join(out, "run"), os.path.join(out, "resumed")

    def callback(event, state):  # rank 0 only; keeps a copy of the step-4 checkpoint as an interrupted run's
        record.setdefault("events", []).append(event)
        if event == "step" and state.step == 4:
            shutil.copytree(os.path.join(run_dir, "checkpoint"), os.path.join(resumed_dir, "checkpoint"))

    result = fit(tiny_gpt(0).double(), lm_data(), _recording(record["rows"]), quick_cfg(**CFG), run_dir=run_dir,
                 callbacks=[callback])
    record.update(result.to_dict())
    # every rank resumes from rank 0's step-4 checkpoint (fit's final barrier: it exists by now)
    record["resumed"] = fit(tiny_gpt(1).double(), lm_data(), lm_loss, quick_cfg(**CFG), run_dir=resumed_dir).to_dict()
    with open(os.path.join(out, f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump(record, f)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(the two ranks' records, rank 0's run folder, the one-process result, model and batches)."""
    single_model = tiny_gpt(0).double()
    rows: list = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each rank; tiny models only wait on extra threads
    single = fit(single_model, lm_data(), _recording(rows), quick_cfg(**CFG))
    torch.set_num_threads(threads)
    out = tmp_path_factory.mktemp("ddp")
    # fork, as DataLoader workers do: the ranks start with torch and what fit imports already loaded
    # (a spawned process spends seconds importing them again)
    mp.start_processes(_rank_main, args=(_free_port(), str(out)), nprocs=WORLD, join=True, start_method="fork")
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(WORLD)]
    return ranks, out / "run", single, single_model, rows


def _max_diff(a: list[dict], b: list[dict], key: str) -> float:
    assert [r["step"] for r in a] == [r["step"] for r in b]
    return max(abs(x[key] - y[key]) for x, y in zip(a, b))


def test_two_processes_give_the_losses_of_one_process_with_the_same_global_batch(runs):
    ranks, _, single, _, _ = runs
    log = ranks[0]["steps_log"]
    assert len(log) == CFG["steps"]
    # float64: the only difference is the order of a few additions (two half-batch means, then their mean)
    assert _max_diff(log, single.steps_log, "loss") < 1e-12
    assert _max_diff(log, single.steps_log, "acc") < 1e-6  # accuracy() counts in float32
    assert _max_diff(log, single.steps_log, "grad_norm") < 1e-10
    # training moved the loss ten orders of magnitude more than the tolerance: the curves are not constants
    assert log[-1]["loss"] < log[0]["loss"] - 0.01


def test_each_process_trains_on_its_half_of_every_global_batch(runs):
    ranks, *_, single_rows = runs
    assert len(single_rows) == CFG["steps"] and len(single_rows[0]) == CFG["batch_size"]
    half = CFG["batch_size"] // WORLD
    for step, batch in enumerate(single_rows):
        assert ranks[0]["rows"][step] == batch[:half] and ranks[1]["rows"][step] == batch[half:]


def test_evaluation_is_sharded_and_summed_to_the_whole_split(runs):
    ranks, _, single, *_ = runs
    for key in ("val_loss", "train_loss"):
        assert _max_diff(ranks[0]["history"], single.history, key) < 1e-12
    assert _max_diff(ranks[0]["history"], single.history, "val_acc") < 1e-6
    assert ranks[1]["history"] == ranks[0]["history"]  # every rank holds the same record


def test_rank_zero_alone_writes_the_checkpoint_logs_and_calls_back(runs):
    ranks, run_dir, _, single_model, _ = runs
    ckpt = read_checkpoint(run_dir / "checkpoint")
    assert ckpt is not None and ckpt.state["step"] == CFG["steps"]
    for name, tensor in single_model.state_dict().items():
        if name in ckpt.model:
            torch.testing.assert_close(ckpt.model[name], tensor, rtol=0, atol=1e-10, msg=name)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == CFG["steps"]  # one line per logged step, not one per rank
    assert ranks[0]["events"].count("step") == CFG["steps"] and ranks[0]["events"][-1] == "end"
    assert "events" not in ranks[1]


def test_every_rank_resumes_from_rank_zeros_checkpoint_to_the_same_end(runs):
    ranks, *_ = runs
    for record in ranks:
        resumed = record["resumed"]
        assert "resumed from a checkpoint at step 4" in resumed["notes"]
        assert resumed["steps_log"] == ranks[0]["steps_log"] and resumed["history"] == ranks[0]["history"]


def test_a_batch_that_does_not_split_evenly_is_refused_naming_the_field(runs):
    ranks, *_ = runs
    for record in ranks:
        assert "TrainConfig.batch_size=9" in record["error"] and "multiple of 2" in record["error"]


def test_the_torchrun_entry_point_runs_in_one_process_and_compares_runs(tmp_path, capsys):
    from blocklab.train import ddp_demo

    args = ["--steps", "3", "--batch-size", "8"]
    with cpu_threads(1):
        assert ddp_demo.main([*args, "--out", str(tmp_path / "a")]) == 0
        assert ddp_demo.main([*args, "--out", str(tmp_path / "b"), "--compare", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "1 process(es), 8 rows each of a global batch of 8" in out
    assert "largest per-step loss difference from" in out and out.rstrip().endswith(": 0")  # same process, same run
    assert len(json.loads((tmp_path / "a" / "losses.json").read_text())["losses"]) == 3
    assert ddp_demo.main(["--steps", "2", "--out", str(tmp_path / "c"), "--compare", str(tmp_path / "a")]) == 2
    assert "holds 3 steps, this run 2" in capsys.readouterr().err
