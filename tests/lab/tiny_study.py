"""A real but tiny study for testing the runner and the report: fit y = a·x by gradient descent.

Cells are learning rates. With x uniform in [-1, 1] the update scales the slope error by
about |1 - 2·lr/3| per step, so lr = 0.1 and 0.5 converge to the true slope and lr = 4
(factor 1.67) explodes: a loss past 1e12 stops the run as diverged, as a trainer would. The slope is checkpointed to the
pair's work folder every 50 steps, so an interrupted pair resumes where it saved.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from blocklab.config import Config, NonNegativeFloat, PositiveInt
from blocklab.lab import registry
from blocklab.report import plots
from blocklab.report.results import finished_runs, seed_values
from blocklab.report.verdicts import Measurement, around, at_most

LRS = (0.1, 0.5, 4.0)
FIGURES = ["tiny_curves.png", "tiny_bars.png", "tiny_heatmap.png"]


@dataclass
class TinyConfig(Config):
    steps: PositiveInt = 200
    slope: float = 3.0
    noise: NonNegativeFloat = 0.1
    points: PositiveInt = 64
    label: str = "line"


class TinyStudy(registry.Study):
    name = "tiny"
    description = "fit the slope of a line by gradient descent (a test study)"
    claims = ("C000-01", "C000-08")
    Config = TinyConfig
    quick = {"steps": 60}
    claim_figures = {"C000-08": ("tiny_bars.png",)}
    figure_captions = {"tiny_curves.png": "Squared error per step, one line per learning rate"}

    calls: list = []  # (cell, seed) per run_cell call, reset by the fixture
    interrupt_at: int | None = None  # a step at which run_cell raises KeyboardInterrupt
    fail: tuple | None = None  # a (cell, seed) whose run_cell raises
    draw: bool = False  # figures cost most of a run's time, so only the tests about them draw

    def cells(self, cfg):
        return [registry.Cell(f"lr={lr}", {"lr": lr}) for lr in LRS]

    def run_cell(self, cell, seed, ctx):
        type(self).calls.append((cell.name, seed))
        if (cell.name, seed) == self.fail:
            raise RuntimeError("broken on purpose")
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, ctx.cfg.points)
        y = ctx.cfg.slope * x + ctx.cfg.noise * rng.normal(size=x.size)
        ckpt = ctx.work_dir / "ckpt.json"
        state = json.loads(ckpt.read_text()) if ckpt.exists() else {"step": 0, "a": 0.0, "curve": []}
        resumed_from = state["step"]
        a, curve = state["a"], state["curve"]
        diverged = False
        for step in range(state["step"], ctx.cfg.steps):
            if step == self.interrupt_at:
                raise KeyboardInterrupt
            loss = float(np.mean((a * x - y) ** 2))
            curve.append(loss)
            if loss > 1e12:
                diverged = True
                break
            a -= cell.params["lr"] * float(np.mean(2 * (a * x - y) * x))
            ctx.progress(step + 1, ctx.cfg.steps, {"loss": loss})
            if (step + 1) % 50 == 0:
                ckpt.write_text(json.dumps({"step": step + 1, "a": a, "curve": curve}))
        return {"final_loss": curve[-1], "slope_error": abs(a - ctx.cfg.slope), "a": a, "curve": curve,
                "diverged": diverged, "resumed_from": resumed_from}

    def figures(self, results, fig_dir):
        if not self.draw:
            return []
        fig, ax = plots.figure()
        for c in results["cells"]:
            plots.line_with_band(ax, None, [r["metrics"]["curve"] for r in finished_runs(results, c["name"])],
                                 label=c["name"], scale=plots.LOSS)
        ax.set_yscale("log")
        ax.legend()
        names = [plots.save(fig, fig_dir, FIGURES[0])]
        fig, ax = plots.figure()
        plots.bars_with_ci(ax, [c["name"] for c in results["cells"]],
                           [seed_values(results, c["name"], "slope_error") for c in results["cells"]],
                           scale=plots.NONNEGATIVE)
        names.append(plots.save(fig, fig_dir, FIGURES[1]))
        fig, ax = plots.figure()
        matrix = [[np.mean(seed_values(results, c["name"], "final_loss") or [np.nan])] for c in results["cells"]]
        plots.heatmap(ax, matrix, [c["name"] for c in results["cells"]], ["final loss"])
        names.append(plots.save(fig, fig_dir, FIGURES[2]))
        return names

    def measure(self, results):
        slope = results["config"]["slope"]
        return [
            Measurement("C000-01", f"slope {slope}", seed_values(results, "lr=0.5", "a"), "", around(slope, 0.2)),
            Measurement("C000-08", "error ~0", seed_values(results, "lr=0.1", "slope_error"), "", at_most(0.5),
                        part="lr 0.1"),
            Measurement("C000-08", "error ~0", seed_values(results, "lr=4.0", "slope_error"), "", at_most(0.5),
                        part="lr 4", note="diverges: the error explodes"),
        ]


class FailingTiny(TinyStudy):
    """The test study with a failing pair. Worker processes (`--jobs`) rebuild a study from its class,
    so what a test patches on TinyStudy does not reach them; a class of its own does."""

    fail = ("lr=0.5", 1)


class InterruptedTiny(TinyStudy):
    """The test study interrupted at step 55, after the checkpoint at step 50 of its 60 quick steps."""

    interrupt_at = 55


def register_tiny(monkeypatch: pytest.MonkeyPatch, draw: bool = False) -> type[TinyStudy]:
    """Until `monkeypatch` undoes it, the registry holds only TinyStudy (registered through
    `register`, so that its declaration is checked too)."""
    registry.load_all()  # real studies register into the real registry first, not into this one
    monkeypatch.setattr(registry, "STUDIES", {})
    monkeypatch.setattr(TinyStudy, "calls", [])
    monkeypatch.setattr(TinyStudy, "draw", draw)
    monkeypatch.setenv("BLOCKLAB_NO_PROGRESS", "1")
    monkeypatch.setenv("BLOCKLAB_JOBS", "1")  # `blocklab run` in one process, where the tests' patches apply
    return registry.register(TinyStudy)


@pytest.fixture
def tiny(monkeypatch):
    return register_tiny(monkeypatch)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `blocklab ARGS` in this process (so the test study is registered): exit code, stdout, stderr."""
    from blocklab.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err
