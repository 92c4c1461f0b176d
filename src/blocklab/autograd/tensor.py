"""Tensor: a numpy array that remembers how it was made, and reverse-mode autograd over it.

Every op (in ops_math.py, ops_shape.py, functional.py) follows one recipe, micrograd's on arrays:

    out = Tensor._op(result_array, parents, backward)

where `backward(g)` receives the gradient of the output (an array shaped like it) and
*adds* one term into each parent's gradient with `parent._accumulate(...)`. Adding,
never assigning, is what makes a tensor used twice (x * x, a residual stream) get both
contributions. The closure is handed `g` instead of reading `out.grad`, so it never
refers to `out`: no reference cycles, and the graph is freed as soon as it is dropped.

`backward()` sorts the graph topologically (an explicit stack, so depth is not limited
by Python's recursion limit) and runs the closures from the output back to the leaves.
As in PyTorch, only leaves keep `.grad` (call `retain_grad()` to keep an intermediate's),
and the graph is released after one backward pass (unless `retain_graph=True`); going
through a released part again raises instead of silently adding nothing.

Tensors hold float32 or float64 data; integer index arrays are passed to ops as plain
numpy arrays. Ops on float32 inputs stay float32: constants are cast to the tensor's dtype.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Sequence

import numpy as np

_grad_enabled = True

Backward = Callable[[np.ndarray], None]


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block ops record nothing: outputs have requires_grad=False and no graph."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def _released(g: np.ndarray) -> None:
    raise RuntimeError("backward through a graph a second time; its closures were released after the first "
                       "backward (pass retain_graph=True to the first call to keep them)")


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum g over the axes that broadcasting added or stretched, so it has `shape` again.

    (B, T, D) gradient of `x + b` with b of shape (D,) -> summed over B and T -> (D,).
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


class Tensor:
    """An n-d array with an optional gradient. Methods are named as in torch."""

    __slots__ = ("data", "grad", "requires_grad", "_prev", "_backward", "_retain")
    __array_priority__ = 1000  # numpy_array * tensor calls Tensor.__rmul__, not numpy's loop

    def __init__(self, data, requires_grad: bool = False, dtype=None) -> None:
        arr = np.asarray(data, dtype=dtype)
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float32)  # lists and ints become float32, torch's default float
        self.data: np.ndarray = arr
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._prev: tuple[Tensor, ...] = ()
        self._backward: Backward | None = None
        self._retain = False

    @classmethod
    def _op(cls, data: np.ndarray, parents: Sequence[Tensor], backward: Backward) -> Tensor:
        """The result of an op: attached to the graph only if some parent needs a gradient."""
        out = cls.__new__(cls)
        out.data, out.grad, out._retain = data, None, False
        if _grad_enabled and any(p.requires_grad for p in parents):
            out.requires_grad, out._prev, out._backward = True, tuple(parents), backward
        else:
            out.requires_grad, out._prev, out._backward = False, (), None
        return out

    def _accumulate(self, g: np.ndarray) -> None:
        """Add one gradient contribution (never in place: another tensor may hold the same array)."""
        if g.shape != self.data.shape:
            raise ValueError(f"gradient of shape {g.shape} for a tensor of shape {self.data.shape}")
        self.grad = g if self.grad is None else self.grad + g

    # ------------------------------------------------------------------ autograd
    def backward(self, grad: np.ndarray | None = None, retain_graph: bool = False) -> None:
        """Fill .grad of every leaf this tensor depends on. grad defaults to 1 for a scalar."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (made under no_grad?)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() needs a gradient for a non-scalar tensor of shape {self.shape}")
            grad = np.ones_like(self.data)
        self._accumulate(np.asarray(grad, dtype=self.data.dtype))
        for node in reversed(self._topological_order()):
            if node._backward is None:
                continue  # a leaf: its .grad is the answer
            if node.grad is not None:
                node._backward(node.grad)
            if not node._retain:
                node.grad = None
            if not retain_graph:
                node._prev, node._backward = (), _released  # free the graph as we go

    def _topological_order(self) -> list[Tensor]:
        """Every node reachable from self, each after all of its parents (iterative DFS)."""
        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._prev if id(p) not in seen)
        return order

    def retain_grad(self) -> Tensor:
        self._retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> Tensor:
        return Tensor(self.data)

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad})"

    def _lift(self, other) -> Tensor:
        """A Python number or array as a constant tensor of this tensor's dtype."""
        return other if isinstance(other, Tensor) else Tensor(np.asarray(other, dtype=self.data.dtype))

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other) -> Tensor:
        return _math.add(self, self._lift(other))

    def __mul__(self, other) -> Tensor:
        return _math.mul(self, self._lift(other))

    def __truediv__(self, other) -> Tensor:
        return _math.div(self, self._lift(other))

    def __neg__(self) -> Tensor:
        return _math.neg(self)

    def __pow__(self, exponent: float) -> Tensor:
        return _math.pow(self, exponent)

    def __sub__(self, other) -> Tensor:
        return self + (-self._lift(other))

    def __radd__(self, other) -> Tensor:
        return self + other

    def __rmul__(self, other) -> Tensor:
        return self * other

    def __rsub__(self, other) -> Tensor:
        return self._lift(other) - self

    def __rtruediv__(self, other) -> Tensor:
        return self._lift(other) / self

    def __matmul__(self, other) -> Tensor:
        return _math.matmul(self, self._lift(other))

    def __rmatmul__(self, other) -> Tensor:
        return _math.matmul(self._lift(other), self)

    # ------------------------------------------------------------------ ops defined in ops_*.py
    def matmul(self, other) -> Tensor:
        return self @ other

    def sum(self, dim=None, keepdim: bool = False) -> Tensor:
        return _math.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False) -> Tensor:
        return _math.mean(self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False) -> Tensor:
        """Values only (torch's max(dim) also returns indices: use argmax). Ties share the gradient equally."""
        return _math.amax(self, dim, keepdim)

    def amax(self, dim=None, keepdim: bool = False) -> Tensor:
        return _math.amax(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False) -> np.ndarray:
        """Indices, not differentiable: a plain integer array."""
        return self.data.argmax(axis=dim, keepdims=keepdim)

    def exp(self) -> Tensor:
        return _math.exp(self)

    def log(self) -> Tensor:
        return _math.log(self)

    def sqrt(self) -> Tensor:
        return _math.sqrt(self)

    def tanh(self) -> Tensor:
        return _math.tanh(self)

    def relu(self) -> Tensor:
        return _math.relu(self)

    def reshape(self, *shape) -> Tensor:
        return _shape.reshape(self, _dims(shape))

    def view(self, *shape) -> Tensor:
        return self.reshape(*shape)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _shape.transpose(self, dim0, dim1)

    @property
    def T(self) -> Tensor:
        return _shape.permute(self, tuple(reversed(range(self.ndim))))

    def permute(self, *dims) -> Tensor:
        return _shape.permute(self, _dims(dims))

    def __getitem__(self, index) -> Tensor:
        return _shape.getitem(self, index)

    def masked_fill(self, mask: np.ndarray, value: float) -> Tensor:
        return _shape.masked_fill(self, mask, value)

    def split(self, split_size, dim: int = 0) -> list[Tensor]:
        return _shape.split(self, split_size, dim)


def _dims(args: tuple) -> tuple[int, ...]:
    """reshape(2, 3) and reshape((2, 3)) alike, as torch accepts both."""
    return tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else args


# The op modules build on Tensor, so they are imported after it is defined.
from . import ops_math as _math  # noqa: E402
from . import ops_shape as _shape  # noqa: E402
