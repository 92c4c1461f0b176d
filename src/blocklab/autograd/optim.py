"""Optimizers (SGD with momentum, Adam, AdamW) and gradient clipping.

The update rules are torch.optim's, written out, and a test steps both side by side. Updates
are in place on each parameter's array (the model keeps pointing at the same arrays);
gradients are never modified in place, since two tensors may share one gradient array.

The learning-rate schedule (warmup, then constant, cosine or step decay) is blocklab.train's
`lr_factor`, which train.py applies: one schedule for both engines and one TrainConfig.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .module import Module, Parameter


class Optimizer:
    """Holds the parameters and their per-parameter state; `lr` may be changed between steps.

    `params` is a list of Parameters, or of groups {"params": [...], "weight_decay": wd} as in
    torch, to decay some parameters and not others (see `decay_groups`).
    """

    def __init__(self, params: Iterable, lr: float, weight_decay: float) -> None:
        self.params: list[Parameter] = []
        self.decay: list[float] = []  # each parameter's weight decay
        for item in params:
            group = item if isinstance(item, dict) else {"params": [item]}
            for p in group["params"]:
                self.params.append(p)
                self.decay.append(group.get("weight_decay", weight_decay))
        if not self.params:
            raise ValueError("the optimizer got no parameters")
        self.lr = lr
        self.steps = 0  # updates taken, t in Adam's bias correction
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.steps += 1
        for p, decay, state in zip(self.params, self.decay, self.state):
            if p.grad is not None:
                self._update(p, p.grad, decay, state)

    def _update(self, p: Parameter, g: np.ndarray, decay: float, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def decay_groups(module: Module, weight_decay: float) -> list[dict]:
    """Decay matrices and embeddings (ndim >= 2) only, as blocklab.train does for torch models:
    decaying biases and norm gains pulls them to 0 for no regularising gain."""
    params = module.parameters()
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


class SGD(Optimizer):
    """p -= lr * v, with v = momentum * v + g (+ weight_decay * p in g). Nesterov uses g + momentum * v."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, p, g, decay, state) -> None:
        if decay:
            g = g + decay * p.data
        if self.momentum:
            v = state.get("velocity")
            state["velocity"] = v = g.copy() if v is None else self.momentum * v + g
            g = g + self.momentum * v if self.nesterov else v
        p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction. weight_decay here is an L2 term added to the
    gradient (torch.optim.Adam's meaning); for decoupled decay use AdamW."""

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def _update(self, p, g, decay, state) -> None:
        if decay and self.decoupled:
            p.data *= 1.0 - self.lr * decay
        elif decay:
            g = g + decay * p.data
        if not state:
            state["m"], state["v"] = np.zeros_like(p.data), np.zeros_like(p.data)
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1.0 - self.beta1) * g  # first moment: running mean of g
        v *= self.beta2
        v += (1.0 - self.beta2) * (g * g)  # second moment: running mean of g^2
        # Both start at 0, so early averages are biased toward 0; divide by (1 - beta^t).
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        denom = np.sqrt(v)
        denom *= 1.0 / math.sqrt(correction2)
        denom += self.eps
        p.data -= (self.lr / correction1) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * weight_decay, then Adam."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most max_norm (as
    torch.nn.utils.clip_grad_norm_, including its 1e-6 guard). Returns the norm before clipping."""
    grads = [p for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in grads))
    factor = max_norm / (total + 1e-6)
    if factor < 1.0:
        for p in grads:
            p.grad = p.grad * p.grad.dtype.type(factor)
    return total
