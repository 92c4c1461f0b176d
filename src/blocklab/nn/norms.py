"""Normalization layers, written out: LayerNorm, RMSNorm, BatchNorm over batch and time.

All take (B, T, D) and normalize each feature vector (LayerNorm, RMSNorm) or each
feature across the batch and time (BatchNorm). `eps` is configurable so that the
seed's eps = 0 failure mode can be run.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BlocklabError
from .config import BlockConfig


class LayerNorm(nn.Module):
    """(x - mean) / sqrt(var + eps) * weight + bias, statistics over the last dimension.

    fused=True (nn.attention.set_fused) computes it with F.layer_norm: one kernel forward and
    one backward instead of the eight elementwise ops below, about 7x faster on the CPU, and the
    same function (tests hold the two equal). The written-out formula stays the default because
    the two part ways on overflow: past |x| ~ 1e19 the kernel's float32 x^2 gives NaN, where the
    formula's infinite variance gives the bias, so a diverging run's record would change.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.fused = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        centred = x - x.mean(dim=-1, keepdim=True)
        var = centred.pow(2).mean(dim=-1, keepdim=True)  # biased, as in the paper and torch
        return centred * torch.rsqrt(var + self.eps) * self.weight + self.bias


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight: LayerNorm without centring (Zhang & Sennrich)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class BatchNorm(nn.Module):
    """Per-feature statistics over batch and time (B, T, D); running averages for eval.

    In training the statistics of one batch are used, so the output for one sequence
    depends on the others in its batch, and a single value per feature (B*T = 1) has
    no variance: that raises, as torch.nn.BatchNorm1d does.
    """

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            flat = x.reshape(-1, x.shape[-1])  # (B*T, D)
            if flat.shape[0] < 2:
                raise BlocklabError(
                    "BatchNorm needs more than one value per feature in training (got batch x time = 1); "
                    "use a larger batch or norm='layer'"
                )
            mean = flat.mean(dim=0)
            var = flat.var(dim=0, unbiased=False)
            with torch.no_grad():
                n = flat.shape[0]
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def build_norm(cfg: BlockConfig) -> nn.Module:
    """Resolve cfg.norm once; 'none' is the identity."""
    return {
        "layer": lambda: LayerNorm(cfg.d_model, cfg.norm_eps),
        "rms": lambda: RMSNorm(cfg.d_model, cfg.norm_eps),
        "batch": lambda: BatchNorm(cfg.d_model, cfg.norm_eps),
        "none": nn.Identity,
    }[cfg.norm]()
