"""`evaluating(model)`: eval mode inside the block, the model's own mode back after it."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from blocklab.train import evaluating


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))


def test_eval_mode_inside_and_the_previous_mode_after():
    m = model().train()
    x = torch.randn(8, 4)
    with evaluating(m) as inner:
        assert inner is m and not any(sub.training for sub in m.modules())
        a, b = m(x), m(x)
        assert torch.equal(a, b)  # dropout off and BatchNorm on running statistics: deterministic
    assert all(sub.training for sub in m.modules())
    m.eval()
    with evaluating(m):
        pass
    assert not any(sub.training for sub in m.modules())  # a model in eval mode stays there


def test_the_mode_is_restored_when_the_block_raises():
    m = model().train()
    with pytest.raises(RuntimeError, match="boom"):
        with evaluating(m):
            raise RuntimeError("boom")
    assert m.training and m[1].training
