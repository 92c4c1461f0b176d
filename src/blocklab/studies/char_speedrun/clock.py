"""Validation loss against training CPU seconds: the callback that records the curve, and the
CPU seconds a curve takes to reach a loss.

CPU seconds are time.process_time() of the training process (one torch thread, as every pair of
a `blocklab run` runs), counted from just before `fit` starts; the CPU time of the evaluations
themselves is subtracted, so the curve is what training alone cost. CPU time, not wall time: the
machine may be shared, and another process's work then shows in the wall clock but not here.
"""
from __future__ import annotations

import time
from typing import Callable

from blocklab.train import TrainState

Evaluate = Callable[[], float]  # the validation loss of the model as it is now


class CpuCurve:
    """A fit callback: every `every` steps and at the last one, {"step", "cpu_seconds", "val_loss"}."""

    def __init__(self, evaluate: Evaluate, every: int, steps: int) -> None:
        self.evaluate, self.every, self.steps = evaluate, every, steps
        self.points = [{"step": 0, "cpu_seconds": 0.0, "val_loss": evaluate()}]
        self.excluded = 0.0  # CPU seconds spent evaluating since the clock started
        self.start = time.process_time()

    def __call__(self, event: str, state: TrainState) -> None:
        if event != "step" or (state.step % self.every and state.step != self.steps):
            return
        now = time.process_time()
        self.points.append({"step": state.step, "cpu_seconds": now - self.start - self.excluded,
                            "val_loss": self.evaluate()})
        self.excluded += time.process_time() - now


def cpu_to_reach(points: list[dict], target: float) -> float | None:
    """CPU seconds at which the curve first reaches `target`, linear between the two evaluations around
    the crossing; None if it never does."""
    for i, after in enumerate(points):
        if after["val_loss"] <= target:
            if i == 0:
                return after["cpu_seconds"]
            before = points[i - 1]
            frac = (before["val_loss"] - target) / (before["val_loss"] - after["val_loss"])
            return before["cpu_seconds"] + frac * (after["cpu_seconds"] - before["cpu_seconds"])
    return None


def mean_curve(curves: list[list[dict]]) -> list[dict]:
    """Curves of equal length (seeds of one recipe evaluate at the same steps) averaged point by point."""
    return [{"step": at[0]["step"], "cpu_seconds": sum(p["cpu_seconds"] for p in at) / len(at),
             "val_loss": sum(p["val_loss"] for p in at) / len(at)} for at in zip(*curves)]
