"""Hook points: named places in the forward pass where activations can be read or edited.

A `HookPoint` is an identity module. Because it is a submodule, its name is its path
in the model (`blocks.0.attn.hook_pattern`), as in TransformerLens. `HookedModule`
gives every model two ways in:

    logits, cache = model.run_with_cache(x, names=["blocks.0.attn.hook_pattern"])
    logits = model.run_with_hooks(x, fwd_hooks=[("blocks.0.attn.hook_z", zero_head_1)])

A hook function is called as `fn(activation, hook)` and may return a replacement
activation (or None to leave it unchanged). Hooks added by these two calls are removed
when the call returns, even if it raises.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

from ..errors import BlocklabError

HookFn = Callable[[torch.Tensor, "HookPoint"], "torch.Tensor | None"]


class HookPoint(nn.Module):
    """Identity; exists so that hooks can be attached by name."""

    def __init__(self) -> None:
        super().__init__()
        self.name = ""  # filled in by HookedModule.setup_hooks()

    @property
    def active(self) -> bool:
        """True if anything is listening; attention uses this to leave the fused path."""
        return bool(self._forward_hooks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class HookedModule(nn.Module):
    """Mixin for models: name the hook points and run with caches or edits."""

    def setup_hooks(self) -> None:
        """Call at the end of __init__: names every HookPoint by its module path."""
        self._hook_points = {}
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name
                self._hook_points[name] = module

    @property
    def hook_points(self) -> dict[str, HookPoint]:
        return dict(self._hook_points)

    def _resolve(self, names: Iterable[str] | Callable[[str], bool] | str | None) -> list[str]:
        if names is None:
            return list(self._hook_points)
        if callable(names):
            return [n for n in self._hook_points if names(n)]
        if isinstance(names, str):
            names = [names]
        names = list(names)
        unknown = [n for n in names if n not in self._hook_points]
        if unknown:
            raise BlocklabError(
                f"unknown hook point(s) {unknown}; valid names look like: "
                f"{', '.join(list(self._hook_points)[:12])} ... (see model.hook_points)"
            )
        return names

    @contextlib.contextmanager
    def hooks(self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]) -> Iterator[None]:
        """Attach hooks for the duration of a `with` block."""
        handles = []
        try:
            for names, fn in fwd_hooks:
                for name in self._resolve(names):
                    point = self._hook_points[name]
                    handles.append(point.register_forward_hook(_adapter(fn, point)))
            yield
        finally:
            for h in handles:
                h.remove()

    def run_with_hooks(self, *args: Any, fwd_hooks: Iterable[tuple[Any, HookFn]] = (), **kwargs: Any) -> Any:
        with self.hooks(fwd_hooks):
            return self(*args, **kwargs)

    def run_with_cache(
        self, *args: Any, names: Iterable[str] | Callable[[str], bool] | str | None = None, **kwargs: Any
    ) -> tuple[Any, dict[str, torch.Tensor]]:
        """Forward pass that also returns the activations at `names` (all points if None)."""
        cache: dict[str, torch.Tensor] = {}

        def save(act: torch.Tensor, hook: HookPoint) -> None:
            cache[hook.name] = act.detach()

        with self.hooks([(name, save) for name in self._resolve(names)]):
            out = self(*args, **kwargs)
        return out, cache


def _adapter(fn: HookFn, point: HookPoint):
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor):
        return fn(output, point)

    return hook
