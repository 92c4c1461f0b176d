"""Check the engine's gradients against float64 central finite differences.

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),   error O(eps^2)

A non-scalar output is checked through a random upstream gradient R: the scalar is
sum(out * R), whose gradient is what out.backward(R) computes. A plain .sum() would give
R = 1, which makes softmax's gradient exactly zero and lets transposed gradients of
square matrices pass; a random R catches both.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """The engine's gradient and the finite difference disagree."""


def central_difference(f: Callable[[], float], array: np.ndarray, index: tuple, eps: float) -> float:
    """d f / d array[index], by nudging that one entry in place and putting it back."""
    original = array[index]
    array[index] = original + eps
    up = f()
    array[index] = original - eps
    down = f()
    array[index] = original
    return (up - down) / (2.0 * eps)


def _sample(shape: tuple[int, ...], n: int | None, rng: np.random.Generator) -> list[tuple]:
    everything = list(np.ndindex(*shape))
    if n is None or n >= len(everything):
        return everything
    return [everything[i] for i in rng.choice(len(everything), size=n, replace=False)]


def _compare(scalar: Callable[[], float], tensors: Sequence[Tensor], grads: Sequence[np.ndarray | None],
             names: Sequence[str], entries: int | None, eps: float, atol: float, rtol: float,
             rng: np.random.Generator) -> float:
    worst, failures = 0.0, []
    for t, grad, name in zip(tensors, grads, names):
        if t.dtype != np.float64:
            raise TypeError(f"{name} is {t.dtype}; finite differences need float64")
        analytic = np.zeros_like(t.data) if grad is None else grad  # None: no path to the output
        for index in _sample(t.shape, entries, rng):
            numeric = central_difference(scalar, t.data, index, eps)
            error = abs(analytic[index] - numeric)
            worst = max(worst, error)
            if error > atol + rtol * abs(numeric):
                failures.append(f"{name}{list(index)}: engine {analytic[index]:.8g}, finite difference {numeric:.8g}")
    if failures:
        raise GradcheckError(f"{len(failures)} gradient entries disagree, e.g.\n  " + "\n  ".join(failures[:8]))
    return worst


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], *, entries: int | None = None,
              eps: float = 1e-6, atol: float = 1e-7, rtol: float = 1e-5, seed: int = 0) -> float:
    """Check fn(*inputs) -> Tensor (any shape) with a random upstream gradient.

    `entries` samples that many entries of each input (all of them by default). Returns the
    largest absolute error; raises GradcheckError naming the entries that disagree.
    """
    rng = np.random.default_rng(seed)
    for t in inputs:
        t.grad = None
    out = fn(*inputs)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    grads = [t.grad for t in inputs]

    def scalar() -> float:
        with no_grad():
            return float(np.sum(fn(*inputs).data * upstream))

    names = [f"input {i}" for i in range(len(inputs))]
    return _compare(scalar, inputs, grads, names, entries, eps, atol, rtol, rng)


def check_parameters(loss: Callable[[], Tensor], named: Sequence[tuple[str, Tensor]], *, entries: int = 3,
                     eps: float = 1e-6, atol: float = 1e-7, rtol: float = 1e-5, seed: int = 0) -> float:
    """Check a scalar loss() against finite differences on `entries` random entries of each
    named parameter (model.named_parameters() of a float64 model). Returns the largest error."""
    rng = np.random.default_rng(seed)
    names, tensors = [n for n, _ in named], [t for _, t in named]
    for t in tensors:
        t.grad = None
    loss().backward()
    grads = [t.grad for t in tensors]

    def scalar() -> float:
        with no_grad():
            return float(loss().data)

    return _compare(scalar, tensors, grads, names, entries, eps, atol, rtol, rng)
