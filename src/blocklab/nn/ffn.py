"""Position-wise feed-forward network: D -> d_ff -> D, with ReLU, GELU or SwiGLU."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BlockConfig
from .hooks import HookPoint


class FeedForward(nn.Module):
    """ReLU/GELU: W2 act(W1 x). SwiGLU (Shazeer 2020): W2 (silu(W1 x) * W3 x)."""

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.activation = cfg.activation
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias)
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias) if cfg.activation == "swiglu" else None
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)
        self.hook_pre = HookPoint()  # (B, T, d_ff) before the activation
        self.hook_post = HookPoint()  # (B, T, d_ff) after it: "FFN hidden"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hook_pre(self.up(x))  # (B, T, d_ff)
        if self.activation == "relu":
            h = F.relu(h)
        elif self.activation == "gelu":
            h = F.gelu(h)
        else:
            h = F.silu(h) * self.gate(x)
        return self.down(self.drop(self.hook_post(h)))  # (B, T, D)
