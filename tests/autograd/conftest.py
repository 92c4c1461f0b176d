"""Shared checks for the numpy engine: the same computation in the engine and in float64 torch."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import torch

from blocklab.autograd import Tensor


def compare_with_torch(ours: Callable, theirs: Callable, *arrays: np.ndarray, seed: int = 0,
                       atol: float = 1e-10, rtol: float = 1e-8) -> None:
    """Run `ours` on engine Tensors and `theirs` on torch tensors built from the same float64
    arrays, backpropagate one random upstream gradient through both (never a plain .sum(),
    which zeroes softmax gradients and hides transposes), and compare outputs and gradients."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    ours_in = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*ours_in), theirs(*theirs_in)
    expected = ref.detach().numpy()
    assert out.shape == expected.shape, f"output shape: expected {expected.shape}, got {out.shape}"
    np.testing.assert_allclose(out.data, expected, atol=atol, rtol=rtol, err_msg="forward values")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for i, (a, t) in enumerate(zip(ours_in, theirs_in)):
        want = np.zeros_like(a.data) if t.grad is None else t.grad.numpy()
        got = np.zeros_like(a.data) if a.grad is None else a.grad
        assert got.shape == want.shape, f"gradient of input {i}: expected shape {want.shape}, got {got.shape}"
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")


@pytest.fixture
def vs_torch() -> Callable:
    return compare_with_torch


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
