"""Float-vector tasks of seed 000 (studies 45, 46 and 48).

- spirals: two interleaved 2-D spirals (class 0 / 1) with Gaussian noise; a deep
  network must bend the plane many times, which is where depth and skips matter.
- signals: 1-D signals of `length` samples, each a sum of three sinusoids plus
  sparse spikes and noise; the target is the clean-plus-spikes signal itself
  (autoencoding), and the third tensor marks spike positions, so that reconstruction
  error can be measured at spikes separately ("spike preservation").
"""
from __future__ import annotations

import math

import torch

from .base import SPLITS, TaskData, generator, split_sizes


def spirals(n_train: int, n_val: int, n_test: int, seed: int, turns: float = 2.0, noise: float = 0.05) -> TaskData:
    g = generator(seed)

    def sample(n):
        y = torch.randint(0, 2, (n,), generator=g)
        r = torch.rand(n, generator=g)  # radius in [0, 1)
        angle = 2 * math.pi * turns * r + math.pi * y
        x = torch.stack([r * angle.cos(), r * angle.sin()], dim=1)  # (n, 2)
        return x + noise * torch.randn(n, 2, generator=g), y

    sizes = split_sizes(n_train, n_val, n_test)
    splits = {s: sample(sizes[s]) for s in SPLITS if sizes[s] > 0}
    return TaskData("spirals", splits, 0, 2, f"(x, y) on two spirals of {turns} turns, noise {noise} -> arm 0 or 1",
                    render=lambda x: f"({x[0]:.2f}, {x[1]:.2f})")


def signals(
    n_train: int, n_val: int, n_test: int, seed: int, length: int = 32, n_spikes: int = 2,
    spike_height: float = 3.0, noise: float = 0.05,
) -> TaskData:
    g = generator(seed)
    t = torch.linspace(0, 1, length)

    def sample(n):
        freq = torch.randint(1, 6, (n, 3), generator=g).float()
        phase = 2 * math.pi * torch.rand(n, 3, generator=g)
        amp = torch.rand(n, 3, generator=g)
        clean = (amp[..., None] * torch.sin(2 * math.pi * freq[..., None] * t + phase[..., None])).sum(1)  # (n, L)
        spikes = torch.zeros(n, length)
        where = torch.randint(0, length, (n, n_spikes), generator=g)
        sign = torch.randint(0, 2, (n, n_spikes), generator=g).float() * 2 - 1
        spikes.scatter_(1, where, spike_height * sign)
        target = clean + spikes
        return target + noise * torch.randn(n, length, generator=g), target, spikes != 0

    sizes = split_sizes(n_train, n_val, n_test)
    splits = {s: sample(sizes[s]) for s in SPLITS if sizes[s] > 0}
    return TaskData("signals", splits, 0, 0,
                    f"{length} samples of 3 sinusoids + {n_spikes} spikes of height {spike_height} "
                    f"+ noise {noise} -> the signal")
