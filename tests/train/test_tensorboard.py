import json
import sys

import pytest

from blocklab.errors import BlocklabError
from blocklab.train import fit

from .helpers import lm_data, lm_loss, quick_cfg, tiny_gpt
from .test_trainer import Interrupt, interrupt_at

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_scalars(directory) -> dict[str, list[tuple[int, float]]]:
    """What TensorBoard itself shows: every scalar tag as (step, value), stale events purged."""
    acc = event_accumulator.EventAccumulator(str(directory))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def expected_scalars(steps_log, history) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for prefix, records in (("train", steps_log), ("eval", history)):
        for record in records:
            for key, value in record.items():
                if key != "step":
                    out.setdefault(f"{prefix}/{key}", []).append((record["step"], value))
    return out


def assert_same_scalars(got, expected):
    assert got.keys() == expected.keys()
    for tag, points in expected.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
        assert [v for _, v in got[tag]] == pytest.approx([v for _, v in points], rel=1e-6), tag  # stored as float32


def test_event_files_hold_the_metrics_jsonl_records_and_the_evaluations(tmp_path):
    result = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(tensorboard=True), run_dir=tmp_path)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    got = read_scalars(tmp_path / "tensorboard")
    assert_same_scalars(got, expected_scalars(logged, result.history))
    assert {"train/loss", "train/lr", "train/grad_norm", "train/grad_norm/blocks.0.attn", "eval/val_acc"} <= set(got)


def test_a_resumed_run_writes_each_step_once(tmp_path):
    cfg = quick_cfg(steps=40, checkpoint_every=10, log_every=5, eval_every=10, tensorboard=True)
    straight = fit(tiny_gpt(), lm_data(), lm_loss, cfg.replace(tensorboard=False))
    # Interrupted at step 27: the first session has already written steps 21-25, after its last checkpoint (20).
    with pytest.raises(Interrupt):
        fit(tiny_gpt(), lm_data(), lm_loss, cfg, run_dir=tmp_path, callbacks=[interrupt_at(27)])
    assert (25, pytest.approx(straight.steps_log[4]["loss"])) in read_scalars(tmp_path / "tensorboard")["train/loss"]
    fit(tiny_gpt(), lm_data(), lm_loss, cfg, run_dir=tmp_path)
    assert len(list((tmp_path / "tensorboard").iterdir())) == 2  # one event file per session
    assert_same_scalars(read_scalars(tmp_path / "tensorboard"), expected_scalars(straight.steps_log, straight.history))


def test_tensorboard_needs_a_run_dir_and_the_package(monkeypatch):
    with pytest.raises(BlocklabError, match="tensorboard=True writes to run_dir/tensorboard.*no run_dir"):
        fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(tensorboard=True))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what a missing package looks like
    with pytest.raises(BlocklabError, match=r"pip install 'blocklab\[tensorboard\]'"):
        fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(tensorboard=True), run_dir="unused")
