"""The numpy training loop: batches, schedule, clipping, evaluation, divergence, generation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blocklab.autograd import GPT, no_grad
from blocklab.autograd.convert import to_torch
from blocklab.autograd.train import Examples, TokenWindows, evaluate, fit
from blocklab.errors import ConfigError
from blocklab.nn import GPTConfig
from blocklab.train import TrainConfig, lr_factor

CFG = GPTConfig(vocab_size=6, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8, dropout=0.0)


def test_token_windows_shift_by_one(rng):
    data = TokenWindows(np.arange(50), context=8)
    x, y = data.sample(4, rng)
    assert x.shape == y.shape == (4, 8)
    np.testing.assert_array_equal(y, x + 1)
    batches = list(data.batches(3))
    firsts = np.concatenate([bx[:, 0] for bx, _ in batches])
    np.testing.assert_array_equal(firsts, np.arange(0, 42, 8))  # non-overlapping, in order
    with pytest.raises(ConfigError, match="longer than context"):
        TokenWindows(np.arange(5), context=8)


def test_fit_learns_a_periodic_stream_and_follows_the_schedule():
    stream = np.tile(np.array([0, 1, 2, 3, 4, 5, 3, 1]), 60)  # next token is a function of the last two
    train, val = TokenWindows(stream[:400], 8), TokenWindows(stream[400:], 8)
    cfg = TrainConfig(steps=120, batch_size=16, lr=3e-2, schedule="cosine", warmup_steps=10, grad_clip=1.0,
                      eval_every=60, log_every=1, weight_decay=0.01)
    seen = []
    history = fit(GPT(CFG, seed=0), train, cfg, val=val, callbacks=[lambda step, model, rec: seen.append(step)])
    assert seen == [60, 120] and [e["step"] for e in history.evals] == [60, 120]
    assert history.evals[-1]["val_loss"] < 0.1 < 1.5 < history.steps[0]["loss"]
    for row in history.steps:
        assert row["lr"] == pytest.approx(cfg.lr * lr_factor(row["step"] - 1, cfg))  # the torch trainer's schedule
        assert row["grad_norm"] > 0
    assert history.diverged_at is None


def test_level1_style_memorization_with_examples(rng):
    """12 patterns, each opened by its own token so that every next token is determined."""
    x = np.concatenate([np.arange(12)[:, None], rng.integers(0, 16, (12, 7))], axis=1)  # (12, 8)
    y = np.roll(x, -1, axis=1)
    y[:, -1] = -100  # nothing to predict after the last position
    model = GPT(CFG.replace(vocab_size=16), seed=1)
    fit(model, Examples(x, y), TrainConfig(steps=200, batch_size=12, lr=2e-2, eval_every=None))
    with no_grad():
        pred = model(x).data.argmax(-1)
    np.testing.assert_array_equal(pred[:, :-1], y[:, :-1])


def test_evaluate_weights_by_target_tokens_and_restores_mode(rng):
    model = GPT(CFG, seed=0)
    x, y = rng.integers(0, 6, (5, 8)), rng.integers(0, 6, (5, 8))
    y[0, :4] = -100
    result = evaluate(model, Examples(x, y), batch_size=2)
    assert result["loss"] == pytest.approx(model.loss(x, y).item(), rel=1e-5)
    assert result["bits_per_token"] == pytest.approx(result["loss"] / math.log(2))
    assert model.training


def test_divergence_stops_without_applying_the_update():
    model = GPT(CFG, seed=0)
    before = model.state_dict()
    history = fit(model, TokenWindows(np.arange(40) % 6, 8), TrainConfig(steps=5, batch_size=2, diverge_grad_norm=1e-9))
    assert history.diverged_at == 1
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_torch_only_fields_are_refused():
    with pytest.raises(ConfigError, match="TrainConfig.amp=True.*numpy engine"):
        fit(GPT(CFG), TokenWindows(np.arange(40) % 6, 8), TrainConfig(amp=True))


def test_generate_matches_the_torch_model_greedy_and_sampled(rng):
    model = GPT(CFG.replace(init_std=0.5), seed=3).eval()
    theirs = to_torch(model).eval()
    prompt = rng.integers(0, 6, (2, 3))
    ours = model.generate(prompt, 10, temperature=0.0)
    ref = theirs.generate(torch.from_numpy(prompt), 10, temperature=0.0, use_cache=False).numpy()
    np.testing.assert_array_equal(ours, ref)
    sampled = model.generate(prompt, 10, temperature=0.8, top_k=3, top_p=0.9,
                             generator=torch.Generator().manual_seed(0))
    ref = theirs.generate(torch.from_numpy(prompt), 10, temperature=0.8, top_k=3, top_p=0.9, use_cache=False,
                          generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(sampled, ref)
