"""A tiny torch study whose seeds train together: a 2-layer network fitting a random linear map.

Each seed draws its own data and its own network (as the real studies do), so a stack holds K
different runs. In the "explode" cell, seed 1's targets are scaled by 1e30: its loss overflows at
the first step and that seed alone diverges, while the others in its stack train on. The "alone"
cell says it does not stack, so it runs through run_cell even in a study that stacks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from blocklab.config import Config
from blocklab.lab import registry
from blocklab.studies.common.training import regress
from blocklab.train import TrainConfig

EXPLODING_SEED = 1


@dataclass
class StackConfig(Config):
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=30, batch_size=8, lr=1e-2, eval_every=10,
                                                                     log_every=5))


class StackedTiny(registry.Study):
    name = "tiny-stacked"
    description = "a 2-layer network fitting a random linear map, its seeds trained together (a test study)"
    Config = StackConfig
    quick = {"train.steps": 20}

    prepared: list = []  # (cell, seed) per prepare call, reset by the fixture
    fail_seed: int | None = None  # a seed whose prepare raises

    def cells(self, cfg):
        return [registry.Cell("lr=0.01", {"lr": 0.01}), registry.Cell("lr=0.03", {"lr": 0.03}),
                registry.Cell("explode", {"lr": 0.01, "explode": True}),
                registry.Cell("alone", {"lr": 0.01, "alone": True})]

    def stacks(self, cell, cfg):
        return not cell.params.get("alone")

    def run_cell(self, cell, seed, ctx):
        return registry.train_and_conclude(self, cell, seed, ctx)

    def prepare(self, cell, seed, ctx):
        type(self).prepared.append((cell.name, seed))
        if seed == self.fail_seed:
            raise RuntimeError("broken on purpose")
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(48, 4, generator=g)  # (N, 4)
        y = x @ torch.randn(4, 2, generator=g)  # (N, 2)
        if cell.params.get("explode") and seed == EXPLODING_SEED:
            y = y * 1e30  # a squared error past float32's range: inf at the first step
        model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))  # drawn from the runner's seeding
        data = {"train": (x[:32], y[:32]), "val": (x[32:], y[32:])}
        return registry.Training(model, data, regress, ctx.cfg.train.replace(lr=cell.params["lr"], seed=seed,
                                                                             device=ctx.device))

    def conclude(self, cell, training, result, ctx):
        return {"weight": training.model[0].weight.flatten().tolist(), "val_loss": result.final.get("val_loss"),
                "losses": [r["loss"] for r in result.steps_log], **result.to_dict()}


class FailingStack(StackedTiny):
    fail_seed = 1


def register_stacked(monkeypatch: pytest.MonkeyPatch, study: type[StackedTiny] = StackedTiny) -> type[StackedTiny]:
    """Until `monkeypatch` undoes it, the registry holds only `study`, under the test study's name."""
    registry.load_all()
    monkeypatch.setattr(registry, "STUDIES", {})
    monkeypatch.setattr(StackedTiny, "prepared", [])
    monkeypatch.setenv("BLOCKLAB_NO_PROGRESS", "1")
    monkeypatch.setenv("BLOCKLAB_JOBS", "1")
    return registry.register(study)
