"""Muon (Jordan et al., 2024): momentum orthogonalised by a Newton-Schulz iteration, for the hidden matrices.

For a hidden weight W (m x n) with Nesterov momentum M = U S V^T, Muon steps along U V^T, the
semi-orthogonal matrix nearest M: every direction the momentum holds moves by the same amount,
so the few large singular directions that dominate a gradient no longer drown the rest. An SVD
per step is slow; five steps of the quintic Newton-Schulz iteration from X = M / ||M||_F,

    A = X X^T,   X <- a X + (b A + c A^2) X,   (a, b, c) = (3.4445, -4.7750, 2.0315),

act on each singular value s alone as s <- a s + b s^3 + c s^5, which pushes every s in (0, 1]
into about [0.7, 1.2]: not exactly 1, and it trains as well (the coefficients are Keller Jordan's,
tuned for the fastest rise near 0). The update is scaled by sqrt(max(1, m / n)) so that tall
matrices move as much per entry as wide ones, and weight decay is decoupled, as in AdamW.

Only the 2-D (or larger) parameters inside blocklab Blocks are hidden matrices. Embeddings, the
output head, norm gains and biases stay with AdamW: an embedding row moves only when its token
appears, and the head's rows are one per class. Both kinds live in this one optimizer, as param
groups with `muon` True or False, so one LambdaLR scales both learning rates (cfg.muon_lr and
cfg.lr), one state_dict checkpoints both, and `replace` (train/stacked.py's (K, *shape) stacks)
works unchanged: the iteration acts on the last two dimensions of whatever it is given.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from ..errors import BlocklabError
from ..nn.blocks import Block
from .config import TrainConfig

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5


def newton_schulz(g: torch.Tensor, steps: int = NS_STEPS) -> torch.Tensor:
    """(..., m, n) -> the same shape with every singular value moved towards 1 (see the module docstring)."""
    a, b, c = NS_COEFFICIENTS
    tall = g.shape[-2] > g.shape[-1]
    x = g.mT if tall else g  # (..., k, K) with k <= K: A = X X^T is the smaller k x k Gram matrix
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)  # Frobenius norm 1: every singular value <= 1
    for _ in range(steps):
        gram = x @ x.mT  # (..., k, k)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Muon on the groups with muon=True, AdamW (torch's formula) on the others; see the module docstring."""

    def __init__(self, groups: list[dict], lr: float, muon_lr: float, momentum: float,
                 betas: tuple[float, float], eps: float = 1e-8) -> None:
        defaults = {"lr": lr, "momentum": momentum, "betas": betas, "eps": eps, "weight_decay": 0.0, "muon": False}
        groups = [{**g, "lr": muon_lr} if g.get("muon") else g for g in groups]
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.mul_(1 - group["lr"] * group["weight_decay"])
                (self._muon if group["muon"] else self._adamw)(p, group, self.state[p])

    @staticmethod
    def _muon(p: torch.Tensor, group: dict, state: dict) -> None:
        if not state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf, beta = state["momentum_buffer"], group["momentum"]
        buf.lerp_(p.grad, 1 - beta)  # EMA of gradients
        nesterov = p.grad.lerp(buf, beta)  # look one momentum step ahead
        update = newton_schulz(nesterov) * math.sqrt(max(1.0, p.shape[-2] / p.shape[-1]))
        p.add_(update, alpha=-group["lr"])

    @staticmethod
    def _adamw(p: torch.Tensor, group: dict, state: dict) -> None:
        if not state:
            state.update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        (beta1, beta2), g = group["betas"], p.grad
        state["step"] += 1
        step = float(state["step"])
        state["exp_avg"].lerp_(g, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2 ** step)).add_(group["eps"])
        p.addcdiv_(state["exp_avg"], denom, value=-group["lr"] / (1 - beta1 ** step))


def hidden_matrix_names(model: nn.Module) -> set[str]:
    """Names (as model.named_parameters gives them) of the >= 2-D parameters inside blocklab Blocks."""
    inside = {id(p) for m in model.modules() if isinstance(m, Block) for p in m.parameters() if p.ndim >= 2}
    return {name for name, p in model.named_parameters() if id(p) in inside}


def build_muon(model: nn.Module, cfg: TrainConfig, replace: Mapping[str, torch.Tensor] | None = None) -> Muon:
    """Muon over `model`'s hidden matrices and AdamW over the rest (or over their `replace` tensors)."""
    hidden = hidden_matrix_names(model)
    if not hidden:
        raise BlocklabError(f"TrainConfig.optimizer='muon' orthogonalises the matrices inside blocklab Blocks, and "
                            f"{type(model).__name__} has none; choose optimizer 'adamw', 'adam' or 'sgd'")
    named = [(n, p, replace[n] if replace is not None else p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [  # AdamW's first: the trainer records group 0's lr, which is then cfg.lr's, as with AdamW alone
        {"params": [t for n, p, t in named if n not in hidden and p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [t for n, p, t in named if p.ndim < 2], "weight_decay": 0.0},
        {"params": [t for n, _, t in named if n in hidden], "weight_decay": cfg.weight_decay, "muon": True},
    ]
    return Muon([g for g in groups if g["params"]], lr=cfg.lr, muon_lr=cfg.muon_lr, momentum=cfg.muon_momentum,
                betas=cfg.betas)
