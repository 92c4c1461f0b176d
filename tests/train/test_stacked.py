"""fit_stacked: K seeds trained as one stacked model give the K runs fit() gives one by one
(same losses at every step, evaluations and final weights, up to float rounding), and what it
cannot do the same way is refused by name."""
from __future__ import annotations

import warnings

import pytest
import torch

from blocklab.errors import BlocklabError, ConfigError
from blocklab.train import fit
from blocklab.train.stacked import fit_stacked

from .helpers import lm_data, lm_loss, quick_cfg, tiny_gpt

SEEDS = (0, 1, 2)


def test_seeds_trained_together_match_their_runs_alone():
    data = lm_data()
    # AdamW with weight decay (grouped by each weight's own ndim) and clipping (per run) on; cosine schedule
    cfg = quick_cfg(steps=8, eval_every=4, log_every=1, weight_decay=0.1, grad_clip=0.5, schedule="cosine",
                    warmup_steps=2)
    alone = [tiny_gpt(seed) for seed in SEEDS]
    expected = [fit(m, data, lm_loss, cfg.replace(seed=seed)) for m, seed in zip(alone, SEEDS)]
    together = [tiny_gpt(seed) for seed in SEEDS]
    results = fit_stacked(together, data, lm_loss, cfg, SEEDS)
    for got, want, m_got, m_want in zip(results, expected, together, alone):
        assert [r["step"] for r in got.steps_log] == [r["step"] for r in want.steps_log]
        for key in ("loss", "acc", "lr", "grad_norm"):
            assert [r[key] for r in got.steps_log] == pytest.approx([r[key] for r in want.steps_log], rel=1e-4), key
        assert [sorted(h) for h in got.history] == [sorted(h) for h in want.history]
        for g, w in zip(got.history, want.history):
            assert g == pytest.approx(w, rel=1e-4)
        for (name, a), (_, b) in zip(m_got.state_dict().items(), m_want.state_dict().items()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
        assert not got.diverged and got.steps_done == cfg.steps
    assert expected[0].steps_log[0]["loss"] != expected[1].steps_log[0]["loss"]  # the seeds do differ


def test_what_cannot_train_together_is_refused_by_name():
    models = [tiny_gpt(seed) for seed in SEEDS]
    with pytest.raises(ConfigError, match="TrainConfig.early_stop_metric='val_acc' is not supported"):
        fit_stacked(models, lm_data(), lm_loss, quick_cfg(early_stop_metric="val_acc", patience=2), SEEDS)
    with pytest.raises(ConfigError, match="one seed per model; got 3 models and 2 seeds"):
        fit_stacked(models, lm_data(), lm_loss, quick_cfg(), SEEDS[:2])
    with pytest.raises(ConfigError, match="one architecture"):
        fit_stacked([tiny_gpt(0), tiny_gpt(1, d_ff=16)], lm_data(), lm_loss, quick_cfg(), SEEDS[:2])
    def item_loss(model, batch):  # a metric read out as a Python number, which vmap cannot batch
        loss, metrics = lm_loss(model, batch)
        return loss, {"acc": metrics["acc"].item()}

    with pytest.raises(BlocklabError, match="the loss function cannot run for K runs at once"):
        fit_stacked(models, lm_data(), item_loss, quick_cfg(steps=2), SEEDS)
    with pytest.raises(BlocklabError, match="draws random numbers"):
        fit_stacked([tiny_gpt(s, dropout=0.1) for s in SEEDS], lm_data(), lm_loss, quick_cfg(steps=2), SEEDS)


def test_each_run_trains_on_its_own_data_and_reports_its_progress():
    # attention on its explicit path inside the stacked step: the fused model alone must agree with it
    datas = [lm_data(), {k: tuple(t.flip(0) for t in v) for k, v in lm_data().items()}]
    cfg = quick_cfg(steps=6, eval_every=3, log_every=1)
    alone = [fit(tiny_gpt(seed), d, lm_loss, cfg.replace(seed=seed)) for seed, d in zip(SEEDS, datas)]
    calls: list[list] = [[], []]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = fit_stacked([tiny_gpt(seed) for seed in SEEDS[:2]], datas, lm_loss, cfg, SEEDS[:2],
                          progress=[lambda step, total, info, k=k: calls[k].append((step, total, info["loss"]))
                                    for k in range(2)])
    assert not [w for w in caught if "batching rule" in str(w.message)]  # no per-run loop over a fused kernel
    for g, w, seen in zip(got, alone, calls):
        assert [r["loss"] for r in g.steps_log] == pytest.approx([r["loss"] for r in w.steps_log], rel=1e-4)
        assert g.history[-1] == pytest.approx(w.history[-1], rel=1e-4)
        assert seen == [(r["step"], cfg.steps, r["loss"]) for r in g.steps_log]
    # seed 1 on seed 0's data trains otherwise: run 1 did read its own
    assert got[1].steps_log[-1]["loss"] != pytest.approx(fit(tiny_gpt(1), datas[0], lm_loss, cfg.replace(seed=1))
                                                          .steps_log[-1]["loss"], rel=1e-4)
    with pytest.raises(ConfigError, match="one data dict per model"):
        fit_stacked([tiny_gpt(s) for s in SEEDS], datas, lm_loss, cfg, SEEDS)
