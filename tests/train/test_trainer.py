import json
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.train import evaluate, fit
from blocklab.train.checkpoint import unfinished_step

from .helpers import assert_same_weights, lm_data, lm_loss, quick_cfg, tiny_gpt, weights


class Interrupt(Exception):
    """Stands in for a kill: raised from a callback, it escapes fit like a KeyboardInterrupt."""


def interrupt_at(step):
    def callback(event, state):
        if event == "step" and state.step == step:
            raise Interrupt
    return callback


# ---------------------------------------------------------------- determinism and resume
def test_same_seed_gives_identical_metrics_and_another_seed_does_not():
    cfg = quick_cfg(steps=20)
    runs = []
    for seed in (0, 0, 1):
        model = tiny_gpt(dropout=0.1)  # same initial weights each time: only cfg.seed varies
        runs.append((fit(model, lm_data(), lm_loss, cfg.replace(seed=seed)), weights(model)))
    (a, wa), (b, wb), (c, _) = runs
    assert a.history == b.history and a.steps_log == b.steps_log
    assert_same_weights(wa, wb)
    assert a.history != c.history


def test_resume_ends_exactly_where_an_uninterrupted_run_ends(tmp_path):
    # 80 rows in batches of 12: 6 batches an epoch, so the checkpoint at step 20 is mid-epoch;
    # dropout makes the torch RNG state matter, and cosine decay the scheduler's.
    cfg = quick_cfg(steps=40, checkpoint_every=10, log_every=5, schedule="cosine", warmup_steps=5)
    straight_model = tiny_gpt(dropout=0.2)
    straight = fit(straight_model, lm_data(), lm_loss, cfg)

    with pytest.raises(Interrupt):
        fit(tiny_gpt(dropout=0.2), lm_data(), lm_loss, cfg, run_dir=tmp_path, callbacks=[interrupt_at(25)])
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 20

    resumed_model = tiny_gpt(seed=9, dropout=0.2)  # other initial weights: everything must come from the checkpoint
    resumed = fit(resumed_model, lm_data(), lm_loss, cfg, run_dir=tmp_path)
    assert resumed.history == straight.history
    assert resumed.steps_log == straight.steps_log
    assert_same_weights(weights(resumed_model), weights(straight_model))
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == straight.steps_log  # steps 21-25 not written twice
    assert "resumed from a checkpoint at step 20" in resumed.notes

    # A finished run is not trained again: its result comes back and its weights are loaded.
    again_model = tiny_gpt(seed=4, dropout=0.2)
    again = fit(again_model, lm_data(), lm_loss, cfg, run_dir=tmp_path, callbacks=[interrupt_at(1)])
    assert again == resumed
    assert_same_weights(weights(again_model), weights(straight_model))


@pytest.mark.parametrize("seconds, resumed_at", [(1e-9, 7), (3600.0, None)])
def test_checkpoint_seconds_saves_when_that_much_time_has_passed(tmp_path, seconds, resumed_at):
    """With checkpoint_seconds tiny every step is due (a kill at step 7 resumes at 7, exactly); an hour is never due
    in this run, so a kill loses it all (the rerun starts over, and still ends where an uninterrupted run ends)."""
    cfg = quick_cfg(steps=12, log_every=1, eval_every=4, checkpoint_seconds=seconds)
    straight_model = tiny_gpt(dropout=0.2)
    straight = fit(straight_model, lm_data(), lm_loss, cfg)
    with pytest.raises(Interrupt):
        fit(tiny_gpt(dropout=0.2), lm_data(), lm_loss, cfg, run_dir=tmp_path, callbacks=[interrupt_at(7)])
    assert unfinished_step(tmp_path / "checkpoint") == resumed_at
    resumed_model = tiny_gpt(dropout=0.2)
    resumed = fit(resumed_model, lm_data(), lm_loss, cfg, run_dir=tmp_path)
    assert (resumed.history, resumed.steps_log) == (straight.history, straight.steps_log)
    assert_same_weights(weights(resumed_model), weights(straight_model))
    assert resumed.notes == ([f"resumed from a checkpoint at step {resumed_at}"] if resumed_at else [])


def test_a_finished_run_read_from_its_checkpoint_leaves_the_generators_as_training_left_them(tmp_path):
    """A pair killed after fit returned (in its evaluation) reruns fit, which returns the stored result: what the
    caller then draws must be what it drew after the training itself, not what follows the model's seeding."""
    cfg = quick_cfg(steps=6, checkpoint_every=None, checkpoint_seconds=None)
    fit(tiny_gpt(dropout=0.2), lm_data(), lm_loss, cfg, run_dir=tmp_path)
    after_training = (torch.rand(3), np.random.rand(3), random.random())
    fit(tiny_gpt(seed=5), lm_data(), lm_loss, cfg, run_dir=tmp_path)
    after_reading = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(after_reading[0], after_training[0])
    assert (after_reading[1] == after_training[1]).all() and after_reading[2] == after_training[2]


def test_resuming_with_another_config_is_refused(tmp_path):
    fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(steps=10), run_dir=tmp_path)
    with pytest.raises(BlocklabError, match="lr: 0.003 there, 0.01 here"):
        fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(steps=10, lr=0.01), run_dir=tmp_path)


def test_a_checkpoint_older_than_a_config_field_resumes_when_that_field_has_its_default(tmp_path):
    # Fields added to TrainConfig later (muon_lr, decay_fraction, ...) keep the old behaviour at their defaults,
    # so a checkpoint written before they existed is the same run; a non-default value is still refused.
    done = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(steps=10), run_dir=tmp_path)
    state_file = tmp_path / "checkpoint" / "state.json"
    state = json.loads(state_file.read_text())
    for key in ("muon_lr", "decay_fraction"):
        del state["config"][key]
    state_file.write_text(json.dumps(state))
    again = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(steps=10), run_dir=tmp_path)
    assert again.to_dict() == done.to_dict()
    with pytest.raises(BlocklabError, match="muon_lr: absent there \\(default 0.02\\), 0.05 here"):
        fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(steps=10, muon_lr=0.05), run_dir=tmp_path)


# ---------------------------------------------------------------- divergence
def test_a_nan_loss_is_an_outcome_not_a_crash(tmp_path):
    calls = []

    def nan_at_fifth_step(model, batch):
        loss, metrics = lm_loss(model, batch)
        if model.training:
            calls.append(1)
            if len(calls) == 5:
                loss = loss * float("nan")
        return loss, metrics

    result = fit(tiny_gpt(), lm_data(), nan_at_fifth_step, quick_cfg(eval_every=2), run_dir=tmp_path)
    assert (result.diverged, result.diverged_at, result.steps_done) == (True, 5, 4)
    assert [r["step"] for r in result.history] == [2, 4]
    assert math.isnan(result.final["loss"]) and result.final["grad_norm"] is None
    json.dumps(result.to_dict(), allow_nan=False)  # NaN is written as null
    stored = fit(tiny_gpt(), lm_data(), nan_at_fifth_step, quick_cfg(eval_every=2), run_dir=tmp_path)
    assert stored.to_dict() == result.to_dict()  # (NaN != NaN, so compare the JSON form)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_a_huge_learning_rate_diverges_on_the_gradient_norm(optimizer):
    result = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(lr=1e6, optimizer=optimizer))
    assert (result.diverged, result.diverged_at, result.steps_done) == (True, 2, 1)
    assert result.final["grad_norm"] > 1e4


# ---------------------------------------------------------------- clipping and early stopping
def linear_run(grad_clip):
    torch.manual_seed(0)
    model = nn.Linear(4, 1, bias=False)
    w0 = model.weight.detach().clone()
    x = torch.randn(8, 4)

    def loss_fn(m, batch):
        return 100.0 * m(batch[0]).mean(), {}

    cfg = quick_cfg(optimizer="sgd", momentum=0.0, lr=1.0, steps=1, log_every=1, batch_size=8, grad_clip=grad_clip)
    result = fit(model, {"train": (x,)}, loss_fn, cfg)
    return (model.weight.detach() - w0).norm().item(), result.steps_log[0]["grad_norm"], 100.0 * x.mean(0).norm().item()


def test_grad_clipping_caps_the_update_of_plain_sgd():
    step, grad_norm, expected_grad_norm = linear_run(grad_clip=0.5)
    assert grad_norm == pytest.approx(expected_grad_norm, rel=1e-6)  # the log shows the norm before clipping
    assert grad_norm > 10
    assert step == pytest.approx(0.5, rel=1e-5)
    unclipped, _, _ = linear_run(grad_clip=None)
    assert unclipped == pytest.approx(expected_grad_norm, rel=1e-6)


def test_early_stopping_stops_after_patience_evaluations_without_improvement():
    def flat_metric(model, batch):
        return lm_loss(model, batch)[0], {"acc": 0.5}

    cfg = quick_cfg(steps=100, eval_every=5, early_stop_metric="val_acc", patience=2)
    result = fit(tiny_gpt(), lm_data(), flat_metric, cfg)
    assert (result.early_stopped, result.steps_done) == (True, 15)
    assert [r["step"] for r in result.history] == [5, 10, 15]
    assert result.final == result.history[-1]


def test_early_stopping_waits_while_the_metric_improves():
    calls = []

    def rising_metric(model, batch):
        calls.append(1)
        return lm_loss(model, batch)[0], {"score": float(len(calls))}

    cfg = quick_cfg(steps=20, eval_every=5, early_stop_metric="val_score", patience=1)
    result = fit(tiny_gpt(), lm_data(), rising_metric, cfg)
    assert (result.early_stopped, result.steps_done, len(result.history)) == (False, 20, 4)


def test_an_unknown_early_stop_metric_names_the_available_ones():
    cfg = quick_cfg(early_stop_metric="val_f1", patience=2)
    with pytest.raises(BlocklabError, match="'val_f1' is not in the evaluation record.*'val_acc'"):
        fit(tiny_gpt(), lm_data(), lm_loss, cfg)


# ---------------------------------------------------------------- records, evaluation, hooks
def test_records_hold_the_promised_keys_and_metrics_jsonl_mirrors_steps_log(tmp_path):
    result = fit(tiny_gpt(), {**lm_data(), "test": lm_data()["val"]}, lm_loss, quick_cfg(), run_dir=tmp_path)
    assert [r["step"] for r in result.history] == [10, 20]
    assert set(result.history[0]) == {"step", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                                      "test_acc", "lr"}
    assert [r["step"] for r in result.steps_log] == [5, 10, 15, 20]
    assert {"loss", "acc", "lr", "grad_norm", "grad_norm/blocks.0.attn",
            "update_ratio/embed"} <= set(result.steps_log[0])
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == result.steps_log
    assert result.history[0]["val_loss"] == result.history[0]["test_loss"]  # same split, same weights


def test_evaluating_only_at_the_end_averages_every_training_step():
    result = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(steps=6, eval_every=None, log_every=1))
    assert len(result.history) == 1
    losses = [r["loss"] for r in result.steps_log]
    assert result.history[0]["train_loss"] == pytest.approx(sum(losses) / 6, rel=1e-12)


def test_evaluate_weights_batches_by_size_and_restores_the_mode():
    seen = []

    def mean_of_x(model, batch):
        seen.append((model.training, torch.is_grad_enabled(), len(batch[0])))
        return batch[0].mean(), {"first": batch[0][0]}

    x = torch.arange(10.0)
    model = nn.Linear(1, 1).train()
    scores = evaluate(model, (x,), mean_of_x, batch_size=4, device="cpu")
    assert scores["loss"] == pytest.approx(4.5)  # the mean of 0..9, not the mean of batch means (4.0)
    assert scores["first"] == pytest.approx((0 * 4 + 4 * 4 + 8 * 2) / 10)
    assert seen == [(False, False, 4), (False, False, 4), (False, False, 2)]
    assert model.training


def test_callbacks_and_progress_see_every_step_eval_and_end():
    events, ticks = [], []
    cfg = quick_cfg(steps=10, eval_every=5)
    fit(tiny_gpt(), lm_data(), lm_loss, cfg, callbacks=[lambda e, s: events.append((e, s.step))],
        progress=lambda step, total, info: ticks.append((step, total, sorted(info))))
    assert [e for e in events if e[0] == "eval"] == [("eval", 5), ("eval", 10)]
    assert [e for e in events if e[0] == "step"] == [("step", k) for k in range(1, 11)]
    assert events[-1] == ("end", 10)
    assert ticks == [(k, 10, ["loss", "lr"]) for k in range(1, 11)]
    with pytest.raises(BlocklabError, match="not callable"):
        fit(tiny_gpt(), lm_data(), lm_loss, cfg, callbacks=["plot"])


def test_amp_on_cpu_is_ignored_with_a_note():
    plain = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg())
    amp = fit(tiny_gpt(), lm_data(), lm_loss, quick_cfg(amp=True))
    assert amp.history == plain.history
    assert any("amp=True ignored" in note for note in amp.notes)


@pytest.mark.parametrize("data, message", [
    ({"val": (torch.zeros(4, 2),)}, "'train' split"),
    ({"train": (torch.zeros(4, 2), torch.zeros(5))}, "one shared, non-zero first dimension"),
    ({"train": torch.zeros(4, 2)}, "tuple of tensors"),
])
def test_malformed_data_is_refused(data, message):
    with pytest.raises(BlocklabError, match=message):
        fit(tiny_gpt(), data, lm_loss, quick_cfg())
