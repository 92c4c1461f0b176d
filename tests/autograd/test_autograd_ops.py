"""Every Tensor op against float64 PyTorch, values and gradients, with a random upstream gradient.

WHY: a wrong backward closure (a missing transpose, a broadcast not summed back, a gradient
assigned instead of added) still trains, just worse; only a reference comparison catches it.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from blocklab.autograd import Tensor, no_grad

BROADCAST_PAIRS = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ()), ((1, 3), (2, 1, 1))]


@pytest.mark.parametrize("a_shape,b_shape", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_ops_broadcast(vs_torch, rng, op, a_shape, b_shape):
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    a = rng.standard_normal(a_shape)
    b = rng.uniform(0.5, 2.0, b_shape) * rng.choice([-1, 1], b_shape)  # away from 0 for division
    vs_torch(fn, fn, a, b)
    vs_torch(lambda x, y: fn(y, x), lambda x, y: fn(y, x), a, b)  # broadcasting on the other side


@pytest.mark.parametrize("fn", [lambda x: 2.5 - x, lambda x: 3.0 / x, lambda x: x * 0.5 + 1.0, lambda x: -x])
def test_ops_with_python_numbers(vs_torch, rng, fn):
    vs_torch(fn, fn, rng.uniform(0.5, 2.0, (3, 4)))


@pytest.mark.parametrize("p", [2, 3, -0.5, 0.5, 1.7])
def test_pow(vs_torch, rng, p):
    vs_torch(lambda x: x**p, lambda x: x**p, rng.uniform(0.5, 2.0, (4, 3)))


MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),  # the Linear fast path: one GEMM over all rows
    ((2, 5, 2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 4, 3), (3,)),
]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
def test_matmul(vs_torch, rng, a_shape, b_shape):
    vs_torch(lambda a, b: a @ b, lambda a, b: a @ b, rng.standard_normal(a_shape), rng.standard_normal(b_shape))


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), 1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "amax"])
def test_reductions(vs_torch, rng, name, dim, keepdim):
    def ours(x):
        return getattr(x, name)(dim, keepdim=keepdim)

    def theirs(x):
        if name == "amax":
            return x.amax(dim=() if dim is None else dim, keepdim=keepdim)
        return getattr(x, name)() if dim is None and not keepdim else getattr(x, name)(
            dim=dim if dim is not None else (0, 1, 2), keepdim=keepdim)

    vs_torch(ours, theirs, rng.standard_normal((2, 3, 4)))


def test_max_ties_split_the_gradient_equally(vs_torch):
    """WHAT: max over [1, 3, 3] sends half of g to each 3 (as torch.amax). WHY: documented choice."""
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]]), requires_grad=True)
    x.max(dim=1).backward(np.array([4.0, 1.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 2.0, 2.0], [1.0, 0.0, 0.0]])
    tied = np.array([[1.0, 1.0, 1.0, 0.0], [5.0, 5.0, 2.0, 5.0]])
    vs_torch(lambda t: t.max(), lambda t: t.max(), tied)  # torch.max() without dim also splits
    vs_torch(lambda t: t.max(dim=-1), lambda t: t.amax(dim=-1), tied)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "relu"])
def test_unary(vs_torch, rng, name):
    x = rng.uniform(0.1, 2.0, (3, 5)) * (1 if name in ("log", "sqrt") else rng.choice([-1, 1], (3, 5)))
    vs_torch(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)


@pytest.mark.parametrize("case", ["reshape", "view", "transpose", "permute", "T"])
def test_shape_ops(vs_torch, rng, case):
    fn = {
        "reshape": lambda t: t.reshape(4, 6), "view": lambda t: t.view(-1, 2), "transpose": lambda t: t.transpose(0, 2),
        "permute": lambda t: t.permute(2, 0, 1),
        "T": lambda t: t.transpose(0, 2) if isinstance(t, torch.Tensor) else t.T,
    }[case]
    vs_torch(fn, fn, rng.standard_normal((2, 3, 4)))


@pytest.mark.parametrize("index", [
    (slice(None), 1), (Ellipsis, slice(1, 3)), 1, (slice(0, 2), None),
    (np.array([0, 1, 1, 0]),),  # repeated rows: gradients must add up
    (np.array([0, 1, 1]), np.array([2, 3, 3])),
])
def test_getitem(vs_torch, rng, index):
    parts = index if isinstance(index, tuple) else (index,)
    torch_index = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in parts)
    vs_torch(lambda t: t[index], lambda t: t[torch_index], rng.standard_normal((2, 4, 5)))


def test_boolean_index(vs_torch, rng):
    x = rng.standard_normal((3, 4))
    mask = x > 0
    vs_torch(lambda t: t[mask], lambda t: t[torch.from_numpy(mask)], x)


def test_concat_and_split(vs_torch, rng):
    from blocklab.autograd import functional as F

    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 1)), rng.standard_normal((2, 4))
    vs_torch(lambda *t: F.concat(t, dim=1), lambda *t: torch.cat(t, dim=1), a, b, c)
    x = rng.standard_normal((7, 3))

    def ours(t):
        p, q, r = t.split([2, 4, 1], dim=0)
        return F.concat([r * 3.0, p, q * q], dim=0)

    def theirs(t):
        p, q, r = t.split([2, 4, 1], dim=0)
        return torch.cat([r * 3.0, p, q * q], dim=0)

    vs_torch(ours, theirs, x)
    assert [s.shape for s in Tensor(x).split(3)] == [(3, 3), (3, 3), (1, 3)]


def test_masked_fill_and_where(vs_torch, rng):
    from blocklab.autograd import functional as F

    x, y = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    mask = rng.random((3, 4)) < 0.4
    tmask = torch.from_numpy(mask)
    vs_torch(lambda t: t.masked_fill(mask, -2.0), lambda t: t.masked_fill(tmask, -2.0), x)
    vs_torch(lambda a, b: F.where(mask, a, b), lambda a, b: torch.where(tmask, a, b), x, y)
    vs_torch(lambda a: F.where(mask, a, 0.5), lambda a: torch.where(tmask, a, 0.5), x)


def test_a_tensor_used_twice_gets_both_contributions():
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    (x * x + x * 3.0).backward(np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad, [2 * 1.5 + 3.0, 2 * (2 * -2.0 + 3.0)])


def test_backward_twice_accumulates_into_leaves_like_torch():
    x = Tensor(np.array([2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0])


def test_second_backward_through_a_released_graph_raises():
    x = Tensor(np.array([2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [8.0])  # two passes, both added
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_only_leaves_keep_grad_unless_retained():
    x = Tensor(np.ones(3), requires_grad=True)
    hidden = (x * 2.0).retain_grad()
    other = x * 5.0
    (hidden * other).sum().backward()
    np.testing.assert_allclose(hidden.grad, 5.0 * np.ones(3))
    assert other.grad is None


def test_deep_graph_does_not_recurse():
    """10,000 chained ops: the topological sort is iterative, so no RecursionError."""
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**10_000], rtol=1e-9)


def test_no_grad_records_nothing():
    x = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_non_scalar_backward_needs_a_gradient():
    with pytest.raises(RuntimeError, match="needs a gradient"):
        (Tensor(np.ones(2), requires_grad=True) * 2.0).backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_ops_and_gradients(dtype):
    x = Tensor(np.ones((2, 3), dtype), requires_grad=True)
    w = Tensor(np.ones((3, 2), dtype), requires_grad=True)
    y = ((x @ w) * 2.0 + 1.0 - 0.5 / (x.sum(0) + 1.0).mean()).exp().tanh() ** 2
    y.backward(np.ones(y.shape, dtype))
    assert y.dtype == dtype and x.grad.dtype == dtype and w.grad.dtype == dtype
    assert Tensor([1, 2]).dtype == np.float32  # integers and lists become float32, torch's default


def test_the_engine_imports_without_torch():
    """The engine, its layers and the GPT are numpy only; torch comes in with convert, bench, train."""
    import subprocess
    import sys

    code = "import sys, blocklab.autograd; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
