import math

import pytest
import torch
from torch import nn

from blocklab.train import TrainConfig, build_optimizer, build_scheduler

from .helpers import tiny_gpt


def lrs(cfg: TrainConfig, n: int) -> list[float]:
    """The lr each of the first n updates uses, read from a real optimizer and LambdaLR."""
    opt = build_optimizer(nn.Linear(2, 2), cfg)
    sched = build_scheduler(opt, cfg)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_constant():
    assert lrs(TrainConfig(lr=0.5, schedule="constant"), 3) == [0.5, 0.5, 0.5]


def test_linear_warmup_then_constant():
    got = lrs(TrainConfig(lr=1.0, schedule="warmup", warmup_steps=4), 6)
    assert got == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0], abs=1e-15)


def test_cosine_with_warmup_at_known_steps():
    # warmup 10, then cosine over the remaining 100 updates: halfway (s=60) is 0.5,
    # a quarter of the way (s=35) is 0.5 * (1 + cos(pi/4)).
    got = lrs(TrainConfig(lr=2.0, schedule="cosine", warmup_steps=10, steps=110), 110)
    assert got[0] == pytest.approx(0.2)
    assert got[9] == pytest.approx(2.0)
    assert got[10] == pytest.approx(2.0)
    assert got[35] == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert got[60] == pytest.approx(1.0)
    assert got[109] == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi * 99 / 100)))


def test_cosine_without_warmup_starts_at_peak():
    got = lrs(TrainConfig(lr=1.0, schedule="cosine", steps=4), 4)
    assert got == pytest.approx([1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))])


def test_step_decay():
    got = lrs(TrainConfig(lr=1.0, schedule="step", step_size=3, gamma=0.5), 8)
    assert got == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_step_decay_counts_from_the_end_of_warmup():
    got = lrs(TrainConfig(lr=1.0, schedule="step", warmup_steps=2, step_size=2, gamma=0.1), 6)
    assert got == pytest.approx([0.5, 1.0, 1.0, 1.0, 0.1, 0.1])


def test_wsd_warms_up_holds_the_peak_then_decays_linearly_to_zero():
    # 10 updates: 2 of warmup, 4 at the peak, then decay_steps = 0.4 x 10 = 4 falling to 0 at `steps`.
    got = lrs(TrainConfig(lr=2.0, schedule="wsd", warmup_steps=2, steps=10, decay_fraction=0.4), 10)
    assert got == pytest.approx([1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.5, 1.0, 0.5])


def test_sgd_has_momentum_and_decay_on_matrices_only():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    opt = build_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1, momentum=0.8, weight_decay=0.01))
    assert type(opt) is torch.optim.SGD
    decay, no_decay = opt.param_groups
    assert [p.shape for p in decay["params"]] == [(4, 3)]
    assert [p.shape for p in no_decay["params"]] == [(4,), (4,), (4,)]  # linear bias, norm weight and bias
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.01, 0.0)
    assert all(g["momentum"] == 0.8 and g["lr"] == 0.1 for g in opt.param_groups)


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_adam_family_gets_betas_lr_and_decay(name, cls):
    opt = build_optimizer(nn.Linear(3, 4), TrainConfig(optimizer=name, lr=0.02, betas=(0.8, 0.95), weight_decay=0.1))
    assert type(opt) is cls
    assert [g["betas"] for g in opt.param_groups] == [(0.8, 0.95)] * 2
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert all(g["lr"] == 0.02 for g in opt.param_groups)


def test_tied_weights_are_optimized_once():
    model = tiny_gpt()
    opt = build_optimizer(model, TrainConfig())
    params = [p for g in opt.param_groups for p in g["params"]]
    assert len(params) == len({id(p) for p in params}) == len(list(model.parameters()))
