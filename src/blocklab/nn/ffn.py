"""Position-wise feed-forward network: D -> d_ff -> D, with ReLU, GELU, ReLU² or SwiGLU."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BlockConfig
from .hooks import HookPoint


def relu_squared(h: torch.Tensor) -> torch.Tensor:
    """relu(h)^2 (So et al., 2021, "Primer"); the modded-nanogpt speedruns' activation."""
    return F.relu(h).square()


# The activations that act on each hidden unit alone; SwiGLU, which gates with a second matrix, is not one.
ELEMENTWISE = {"relu": F.relu, "gelu": F.gelu, "relu_squared": relu_squared}


class FeedForward(nn.Module):
    """ReLU/GELU/ReLU²: W2 act(W1 x). SwiGLU (Shazeer 2020): W2 (silu(W1 x) * W3 x)."""

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.act = ELEMENTWISE.get(cfg.activation)  # None: SwiGLU
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias)
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias) if self.act is None else None
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)
        self.hook_pre = HookPoint()  # (B, T, d_ff) before the activation
        self.hook_post = HookPoint()  # (B, T, d_ff) after it: "FFN hidden"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hook_pre(self.up(x))  # (B, T, d_ff)
        h = self.act(h) if self.gate is None else F.silu(h) * self.gate(x)
        return self.down(self.drop(self.hook_post(h)))  # (B, T, D)
