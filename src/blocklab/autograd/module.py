"""Module: a container of Parameters and sub-Modules, found by walking attributes as torch does.

Names are dotted attribute paths (`blocks.0.attn.q_proj.weight`), chosen to be the same as
blocklab.nn's so that a state_dict moves between the two engines key for key.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .tensor import Tensor


class Parameter(Tensor):
    """A trainable tensor: requires_grad=True, and registered by the Module that holds it."""

    __slots__ = ()

    def __init__(self, data) -> None:
        super().__init__(data, requires_grad=True)


class Module:
    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def _named_tensors(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every (name, Parameter), a tied parameter once under each of its names."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_tensors(f"{prefix}{name}.")

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Each parameter once; a tied one under the first name that reaches it (as torch)."""
        seen: set[int] = set()
        for name, p in self._named_tensors():
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """name -> a copy of the array. A tied parameter appears under each name, as in torch."""
        return {name: p.data.copy() for name, p in self._named_tensors()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays in by name, cast to each parameter's dtype; shapes must match.

        A tied parameter needs only one of its names (files that store it once, like
        blocklab.train's safetensors checkpoints, load as they are); every other
        parameter must be present, and no unknown name may be.
        """
        names: dict[int, list[str]] = {}
        params: dict[int, Parameter] = {}
        for name, p in self._named_tensors():
            names.setdefault(id(p), []).append(name)
            params[id(p)] = p
        missing = [ns[0] for key, ns in names.items() if not any(n in state for n in ns)]
        unexpected = sorted(set(state) - {n for ns in names.values() for n in ns})
        if missing or unexpected:
            raise KeyError(f"state_dict does not match the model: missing {missing}, unexpected {unexpected}")
        for key, p in params.items():
            for name in names[key]:
                if name in state:
                    value = np.asarray(state[name])
                    if value.shape != p.shape:
                        raise ValueError(f"{name}: shape {value.shape} in the state_dict, {p.shape} in the model")
                    p.data[...] = value


class ModuleList(Module):
    """Modules named by their position: `blocks.0`, `blocks.1`, ..."""

    def __init__(self, modules) -> None:
        self._items = list(modules)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, m in enumerate(self._items):
            yield str(i), m

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def __getitem__(self, i: int) -> Module:
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)
