"""Muon: the Newton-Schulz iteration's known properties, an update worked out by hand, the AdamW half
against torch's AdamW, which parameters each half gets, and Muon inside fit (learning, resuming)."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.train import TrainConfig, build_optimizer, build_scheduler, fit
from blocklab.train.muon import NS_COEFFICIENTS, Muon, newton_schulz
from blocklab.train.stacked import fit_stacked

from .helpers import assert_same_weights, lm_data, lm_loss, quick_cfg, tiny_gpt, weights
from .test_trainer import Interrupt, interrupt_at


def ns_scalar(s: float, steps: int = 5) -> float:
    """What the iteration does to one singular value s of the normalised matrix: s <- a s + b s^3 + c s^5."""
    a, b, c = NS_COEFFICIENTS
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return s


@pytest.mark.parametrize("shape", [(32, 96), (96, 32), (3, 16, 48)], ids=["wide", "tall", "stacked"])
def test_newton_schulz_keeps_the_singular_vectors_and_moves_every_singular_value_near_one(shape):
    torch.manual_seed(0)
    g = torch.randn(shape, dtype=torch.float64) @ torch.diag(torch.logspace(-2, 1, shape[-1], dtype=torch.float64))
    u, s, vh = torch.linalg.svd(g, full_matrices=False)
    assert (s.amax(-1) / s.amin(-1)).min() > 10, "the input's singular values are far from equal"
    out = newton_schulz(g)
    assert out.shape == g.shape
    inner = u.mT @ out @ vh.mT  # (..., k, k): diagonal iff out = U diag(.) V^T with the input's U and V
    diag = torch.diagonal(inner, dim1=-2, dim2=-1)
    torch.testing.assert_close(inner, torch.diag_embed(diag), rtol=0, atol=1e-9)
    expected = (s / torch.linalg.matrix_norm(g)[..., None]).apply_(ns_scalar)
    torch.testing.assert_close(diag, expected, rtol=1e-6, atol=1e-6)
    big = s / s.amax(-1, keepdim=True) > 0.05  # the iteration lifts values this far from 0 within its 5 steps
    assert ((diag[big] > 0.65) & (diag[big] < 1.25)).all(), f"singular values after: {diag[big]}"


def test_newton_schulz_by_hand_on_a_diagonal_matrix():
    # diag(3, 4) has Frobenius norm 5, so the iteration starts from diag(0.6, 0.8); one step maps
    # s to 3.4445 s - 4.7750 s^3 + 2.0315 s^5: 0.6 -> 1.19326944, 0.8 -> 0.97648192.
    got = newton_schulz(torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64), steps=1)
    torch.testing.assert_close(got, torch.tensor([[1.19326944, 0.0], [0.0, 0.97648192]], dtype=torch.float64))


def test_muon_updates_by_hand_two_steps_with_nesterov_momentum_weight_decay_and_the_tall_scale():
    """Diagonal gradients keep every matrix diagonal, so each step is arithmetic on two numbers:
    buffer <- beta buffer + (1 - beta) g; nesterov = (1 - beta) g + beta buffer; normalise; ns_scalar;
    times sqrt(max(1, rows / cols)) = sqrt(2) for this 4 x 2 weight; W <- W (1 - lr wd) - lr update."""
    lr, wd, beta = 0.1, 0.5, 0.5
    w = nn.Parameter(torch.zeros(4, 2, dtype=torch.float64))
    with torch.no_grad():
        w[0, 0], w[1, 1] = 1.0, 2.0
    opt = Muon([{"params": [w], "muon": True, "weight_decay": wd}], lr=1.0, muon_lr=lr, momentum=beta,
               betas=(0.9, 0.99))
    expected, buffer = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for g in ([3.0, 4.0], [4.0, 1.0]):
        g = torch.tensor(g, dtype=torch.float64)
        w.grad = torch.zeros_like(w)
        w.grad[0, 0], w.grad[1, 1] = g
        opt.step()
        buffer = beta * buffer + (1 - beta) * g
        nesterov = (1 - beta) * g + beta * buffer
        update = torch.tensor([ns_scalar(float(x)) for x in nesterov / nesterov.norm()], dtype=torch.float64)
        expected = expected * (1 - lr * wd) - lr * math.sqrt(2) * update
        torch.testing.assert_close(torch.diagonal(w.detach()), expected)
        assert w.detach()[2:].abs().sum() == 0 and w[0, 1] == 0 and w[1, 0] == 0


def test_muon_adamw_groups_follow_torch_adamw():
    torch.manual_seed(0)
    ours, theirs = nn.Linear(5, 3).double(), nn.Linear(5, 3).double()
    theirs.load_state_dict(ours.state_dict())
    kw = {"betas": (0.8, 0.95), "eps": 1e-8}
    opt_a = Muon([{"params": [ours.weight], "weight_decay": 0.1}, {"params": [ours.bias]}], lr=0.01, muon_lr=9.0,
                 momentum=0.9, **kw)
    opt_b = torch.optim.AdamW([{"params": [theirs.weight], "weight_decay": 0.1},
                               {"params": [theirs.bias], "weight_decay": 0.0}], lr=0.01, **kw)
    for _ in range(5):
        x = torch.randn(7, 5, dtype=torch.float64)
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    assert_same_weights({k: v.round(decimals=12) for k, v in weights(ours).items()},
                        {k: v.round(decimals=12) for k, v in weights(theirs).items()})


def test_build_puts_block_matrices_under_muon_and_the_rest_under_adamw():
    model = tiny_gpt(pos_encoding="learned", tie_weights=True, qk_norm=True)
    opt = build_optimizer(model, TrainConfig(optimizer="muon", lr=1e-3, muon_lr=0.03, weight_decay=0.1))
    names = {id(p): n for n, p in model.named_parameters()}
    by_kind: dict[bool, set[str]] = {True: set(), False: set()}
    for group in opt.param_groups:
        by_kind[group["muon"]] |= {names[id(p)] for p in group["params"]}
    hidden = {n for n, p in model.named_parameters() if n.startswith("blocks.") and p.ndim == 2}
    assert hidden and by_kind[True] == hidden
    assert {"embed.tok.weight", "embed.pos.table.weight", "blocks.0.attn.q_norm.weight"} <= by_kind[False]
    assert not any("proj" in n or "mlp" in n for n in by_kind[False] if n.endswith(".weight") and "norm" not in n)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))  # tied head once
    assert [(g["lr"], g["weight_decay"]) for g in opt.param_groups] == [(1e-3, 0.1), (1e-3, 0.0), (0.03, 0.1)]
    scheduler = build_scheduler(opt, TrainConfig(optimizer="muon", lr=1e-3, muon_lr=0.03, schedule="warmup",
                                                 warmup_steps=4))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([2.5e-4, 2.5e-4, 7.5e-3])  # one schedule, both lrs
    assert scheduler.get_last_lr()[-1] == pytest.approx(7.5e-3)


def test_a_model_without_blocks_is_refused_by_name():
    with pytest.raises(BlocklabError, match=r"optimizer='muon'.*Sequential has none.*'adamw'"):
        build_optimizer(nn.Sequential(nn.Linear(3, 3)), TrainConfig(optimizer="muon"))


def test_fit_with_muon_learns_and_resumes_exactly(tmp_path):
    cfg = quick_cfg(optimizer="muon", muon_lr=0.05, steps=30, checkpoint_every=10, schedule="wsd", warmup_steps=3)
    straight_model = tiny_gpt()
    straight = fit(straight_model, lm_data(), lm_loss, cfg)
    assert straight.history[-1]["val_loss"] < 0.88 * math.log(11), "well below chance (AdamW at lr 3e-3: 2.40)"
    with pytest.raises(Interrupt):
        fit(tiny_gpt(), lm_data(), lm_loss, cfg, run_dir=tmp_path, callbacks=[interrupt_at(15)])
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 10
    resumed_model = tiny_gpt(seed=5)
    resumed = fit(resumed_model, lm_data(), lm_loss, cfg, run_dir=tmp_path)
    assert resumed.history == straight.history
    assert_same_weights(weights(resumed_model), weights(straight_model))


def test_muon_trains_stacked_seeds_as_it_trains_each_alone():
    """fit_stacked hands Muon (K, m, n) stacks: the iteration acts on each run's matrix, as alone."""
    data, seeds = lm_data(), (0, 1)
    cfg = quick_cfg(optimizer="muon", muon_lr=0.05, steps=6, eval_every=3, weight_decay=0.1, grad_clip=0.5)
    alone = [tiny_gpt(seed) for seed in seeds]
    expected = [fit(m, data, lm_loss, cfg.replace(seed=seed)) for m, seed in zip(alone, seeds)]
    together = [tiny_gpt(seed) for seed in seeds]
    results = fit_stacked(together, data, lm_loss, cfg, seeds)
    for got, want, m_got, m_want in zip(results, expected, together, alone):
        assert [h["val_loss"] for h in got.history] == pytest.approx([h["val_loss"] for h in want.history], rel=1e-4)
        for (name, a), (_, b) in zip(m_got.state_dict().items(), m_want.state_dict().items()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
