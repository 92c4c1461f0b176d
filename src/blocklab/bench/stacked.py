"""`blocklab bench stacked --study NAME`: a study's seeds trained alone or together, CPU seconds per model.

For one cell of the study (its first by default), under its --quick and its full config, K seeds are
prepared as the runner prepares them (Study.prepare under each seed) and trained twice in this process:
K fit calls one after another, then one fit_stacked (train.stacked) on fresh copies. Only the training
is timed (time.process_time, so other processes' load counts less than in wall time); the study's
evaluation after training and its callbacks are the same either way and left out. The ratio is the
stacked CPU seconds over the K alone runs': below 1 it pays. `steps` caps the training steps of both
(the full configs train for minutes per model); evaluations keep their interval, so the cost per step
is the study's. The first fit and fit_stacked of a process pay one-time costs, so a short warm-up of
each runs first.
"""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import BlocklabError
from ..lab.pair import train_together
from ..lab.registry import STUDIES, Cell, CellContext, Study, Training, build_config, get_study
from ..train.device import seed_everything
from ..train.trainer import fit
from .timing import table

WARMUP_STEPS = 3


CONFIGS = ("quick", "full")


def bench_stacked(study_name: str, ks: Sequence[int], configs: Sequence[str] = CONFIGS,
                  cell_name: str | None = None, steps: int | None = None, device: str = "cpu") -> dict:
    """Per config and K: CPU seconds per model alone and stacked, and their ratio."""
    study = get_study(study_name)
    if type(study).prepare is Study.prepare:
        raise BlocklabError(f"--study {study_name}: its cells do not build their training with Study.prepare, which "
                            f"this benchmark times; studies that do: {', '.join(preparing_studies())}")
    rows = []
    for config in configs:
        cfg = build_config(study, quick=config == "quick")
        cell = _cell(study, cfg, cell_name)
        with tempfile.TemporaryDirectory() as tmp:
            prepare = _Preparer(study, cfg, cell, config == "quick", Path(tmp), steps, device)
            _warm_up(prepare)
            for k in ks:
                rows.append({"config": config, "cell": cell.name, "steps": prepare.steps, "k": k, **_time(prepare, k)})
    return {"study": study_name, "rows": rows}


def preparing_studies() -> list[str]:
    return [name for name, cls in STUDIES.items() if cls.prepare is not Study.prepare]


def _cell(study: Study, cfg: Any, name: str | None) -> Cell:
    cells = study.cells(cfg)
    if name is None:
        return cells[0]
    for cell in cells:
        if cell.name == name:
            return cell
    raise BlocklabError(f"--cell {name!r}: {study.name} has no such cell; choose one of: "
                        f"{', '.join(c.name for c in cells)}")


class _Preparer:
    """Study.prepare for one cell, as the runner calls it, with the training steps capped."""

    def __init__(self, study: Study, cfg: Any, cell: Cell, quick: bool, folder: Path, steps: int | None,
                 device: str) -> None:
        self.study, self.cfg, self.cell, self.quick, self.folder, self.device = study, cfg, cell, quick, folder, device
        own = self.prepare(0).train.steps
        self.steps = own if steps is None else min(steps, own)

    def __call__(self, seed: int, steps: int | None = None) -> Training:
        training = self.prepare(seed)
        steps = steps or self.steps  # a warm-up shorter than the schedule's warm-up: both cut to it
        training.train = training.train.replace(steps=steps, warmup_steps=min(training.train.warmup_steps, steps))
        return training

    def prepare(self, seed: int) -> Training:
        work = self.folder / f"seed{seed}"
        ctx = CellContext(self.study.name, self.cfg, self.cell, seed, self.device, work, self.quick, _no_progress,
                          logging.getLogger("blocklab.bench"), work / "model")
        seed_everything(seed)
        return self.study.prepare(self.cell, seed, ctx)


def _no_progress(step: int, total: int, info: dict | None = None) -> None:
    pass


def _warm_up(prepare: _Preparer) -> None:
    trainings = [prepare(seed, WARMUP_STEPS) for seed in range(2)]
    fit(trainings[0].model, trainings[0].data, trainings[0].loss_fn, trainings[0].train)
    train_together(trainings)


def _time(prepare: _Preparer, k: int) -> dict:
    alone = 0.0
    for seed in range(k):
        t = prepare(seed)
        started = time.process_time()
        fit(t.model, t.data, t.loss_fn, t.train)
        alone += time.process_time() - started
    trainings = [prepare(seed) for seed in range(k)]
    started = time.process_time()
    train_together(trainings)
    together = time.process_time() - started
    return {"alone_s": alone / k, "stacked_s": together / k, "ratio": together / alone}


def stacked_table(result: dict) -> str:
    rows = [[r["config"], r["cell"], str(r["steps"]), str(r["k"]), f"{r['alone_s']:.3f}", f"{r['stacked_s']:.3f}",
             f"{r['ratio']:.2f}x"] for r in result["rows"]]
    head = f"{result['study']}: CPU s per model, K seeds trained alone (fit) vs together (fit_stacked), one thread"
    return head + "\n" + table(["config", "cell", "steps", "K", "alone s", "stacked s", "stacked/alone"], rows)
