"""Optimizers, clipping and the schedule against torch.optim, step by step in float64."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blocklab.autograd.module import Parameter
from blocklab.autograd.optim import SGD, Adam, AdamW, clip_grad_norm

CASES = [
    (SGD, torch.optim.SGD, dict(lr=0.1)),
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, torch.optim.Adam, dict(lr=0.01)),
    (Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (AdamW, torch.optim.AdamW, dict(lr=0.02, weight_decay=0.3, eps=1e-6)),
]


def _pair(rng, shapes):
    start = [rng.standard_normal(s) for s in shapes]
    return [Parameter(a.copy()) for a in start], [torch.tensor(a, requires_grad=True) for a in start]


def _run_side_by_side(rng, ours, theirs, opt, ref, steps, new_lr=None):
    """The same random gradients into both; at step 3 the learning rate changes to new_lr."""
    for step in range(steps):
        if step == 3 and new_lr is not None:
            opt.lr = new_lr
            for group in ref.param_groups:
                group["lr"] = new_lr
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, t.grad = g, torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ours_cls,theirs_cls,kwargs", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_matches_torch_over_several_steps(rng, ours_cls, theirs_cls, kwargs):
    """WHAT: same starting weights and the same gradients each step -> same weights after 6
    steps, with lr changed midway. WHY: bias correction and decay are easy to get subtly wrong."""
    ours, theirs = _pair(rng, [(3, 4), (4,)])
    opt, ref = ours_cls(ours, **kwargs), theirs_cls(theirs, **kwargs)
    _run_side_by_side(rng, ours, theirs, opt, ref, steps=6, new_lr=kwargs["lr"] / 2)


def test_decay_groups_match_torch(rng):
    """Weight decay on matrices only, given as torch-style groups."""
    ours, theirs = _pair(rng, [(3, 2), (2,)])
    opt = AdamW([{"params": ours[:1], "weight_decay": 0.5}, {"params": ours[1:], "weight_decay": 0.0}], lr=0.1)
    ref = torch.optim.AdamW([{"params": theirs[:1], "weight_decay": 0.5}, {"params": theirs[1:], "weight_decay": 0.0}],
                            lr=0.1)
    _run_side_by_side(rng, ours, theirs, opt, ref, steps=3)


def test_decay_groups_split_by_ndim():
    from blocklab.autograd import GPT
    from blocklab.autograd.optim import decay_groups
    from blocklab.nn import GPTConfig

    model = GPT(GPTConfig(vocab_size=5, d_model=4, n_heads=1, n_layers=1, d_ff=8, max_len=4))
    decayed, kept = decay_groups(model, 0.1)
    assert all(p.ndim == 2 for p in decayed["params"]) and all(p.ndim == 1 for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(model.parameters())


def test_parameters_without_gradient_are_left_alone():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(2))
    p.grad = np.ones(2)
    AdamW([p, q], lr=0.1).step()
    np.testing.assert_array_equal(q.data, np.ones(2))
    assert not np.allclose(p.data, 1.0)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(rng, max_norm):
    grads = [rng.standard_normal((3, 3)), rng.standard_normal(5)]
    ours = [Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = g.copy(), torch.tensor(g)
    norm = clip_grad_norm(ours, max_norm)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert norm == pytest.approx(ref.item())
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    total = math.sqrt(sum(float((p.grad**2).sum()) for p in ours))
    assert total <= max_norm + 1e-6


def test_clipping_does_not_touch_a_shared_gradient_array_twice():
    """Two parameters may hold one gradient array (x + y hands both the same g); scaling in
    place would scale it twice."""
    shared = np.full(4, 3.0)
    a, b = Parameter(np.zeros(4)), Parameter(np.zeros(4))
    a.grad = b.grad = shared
    clip_grad_norm([a, b], 1.0)
    np.testing.assert_array_equal(shared, np.full(4, 3.0))
    np.testing.assert_allclose(a.grad, b.grad)
