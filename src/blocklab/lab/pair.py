"""One (cell, seed) pair of a study run: seeded, on its own thread count, an exception kept as a record.

Every backend (backends.py) runs pairs through `run_pair`, so a pair gives the same metrics
wherever it runs. A pair that runs outside the driver (a worker process, a Ray task) goes
through `collected_pair`, which keeps its step events and log lines to send back with the
record: only the driver writes the run folder's results.json, metrics.jsonl and log.txt.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from ..errors import BlocklabError
from ..io import jsonable
from ..tasks.digits import is_number
from ..train.checkpoint import CHECKPOINT, unfinished_step
from ..train.device import cpu_threads, seed_everything
from .registry import Cell, CellContext, Study

MAX_THREADS = 1024


def env_threads() -> int:
    """Torch threads per pair: BLOCKLAB_THREADS, default 1 (see train.device.cpu_threads); a value that is not
    an integer in [1, 1024] is one line naming the variable."""
    raw = os.environ.get("BLOCKLAB_THREADS", "1")
    if not (is_number(raw) and 1 <= int(raw) <= MAX_THREADS):
        raise BlocklabError(f"environment variable BLOCKLAB_THREADS={raw!r} is not valid; it must be an integer "
                            f"in [1, {MAX_THREADS}]")
    return int(raw)

Emit = Callable[[dict], None]  # receives one metrics.jsonl event
OnStep = Callable[[int, int], None]  # (step, total) of the pair in flight
Collected = tuple[dict, list[dict], list[tuple[int, str]]]  # (record, step events, (level, log line) pairs)


@dataclass
class PairJob:
    """What every pair of one study run shares; it travels to worker processes and Ray tasks as it is."""

    study: Study
    cfg: Any
    device: str
    quick: bool
    folder: Path
    threads: int = field(default_factory=env_threads)


def bars_on() -> bool:
    return sys.stderr.isatty() and os.environ.get("BLOCKLAB_NO_PROGRESS", "") in ("", "0")


def advance(bar: tqdm, step: int, total: int, first: bool = False) -> None:
    """Move a pair's step bar to `step` of `total`. On a pair's first report the bar starts at `step`:
    a resumed pair starts past 0, which must not count as speed."""
    if first or bar.total != total:
        bar.reset(total)
        bar.initial = bar.n = bar.last_print_n = step
    bar.update(step - bar.n)


def run_pair(job: PairJob, cell: Cell, seed: int, emit: Emit, log: logging.Logger,
             on_step: OnStep | None = None) -> dict:
    """Run one (cell, seed); an exception becomes a "failed" record, an interrupt propagates.

    Step counts go to `on_step`, or to a progress bar of this process when it is None.
    """
    work = job.folder / "work" / cell.name / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    bar = None
    if on_step is None:
        bar = tqdm(desc=f"{cell.name} seed {seed}", unit="step", leave=False, disable=not bars_on(), dynamic_ncols=True)
        on_step = functools.partial(advance, bar)

    def progress(step: int, total: int, info: dict | None = None) -> None:
        on_step(step, total)
        if info:
            emit({"event": "step", "cell": cell.name, "seed": seed, "step": step, **info})

    models = job.folder / "models" / cell.name / f"seed{seed}"  # written by the study: model.save(ctx.model_dir)
    ctx = CellContext(job.study.name, job.cfg, cell, seed, job.device, work, job.quick, progress, log, models)
    resumed_at = unfinished_step(work / CHECKPOINT)  # where fit(run_dir=work) will pick up
    if resumed_at:
        log.info("%s seed %d resumes from its checkpoint at step %d", cell.name, seed, resumed_at)
    seed_everything(seed)
    start = time.perf_counter()
    record = {"cell": cell.name, "seed": seed, "status": "done", "metrics": {}, "device": job.device, "message": ""}
    try:
        with cpu_threads(job.threads):
            metrics = job.study.run_cell(cell, seed, ctx)
        if not isinstance(metrics, dict):
            raise TypeError(f"run_cell returned {type(metrics).__name__}; it must return a dict of metrics")
        record["metrics"] = json.loads(json.dumps(jsonable(metrics), allow_nan=False))
        record["status"] = "diverged" if metrics.get("diverged") else "done"
    except KeyboardInterrupt:
        log.warning("interrupted during %s seed %d; rerun the same command to resume", cell.name, seed)
        raise
    except Exception as e:  # one broken pair must not cost the others: record it and go on
        record.update(status="failed", message=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
        log.error("%s seed %d failed: %s", cell.name, seed, record["message"])
    finally:
        if bar is not None:
            bar.close()
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def collected_pair(job: PairJob, cell: Cell, seed: int, on_step: OnStep | None = None) -> Collected:
    """run_pair away from the driver: step events and log lines are kept and sent back with the record."""
    events: list[dict] = []
    log = logging.getLogger(f"blocklab.studies.{job.study.name}")
    keeper = _Keep()
    log.addHandler(keeper)
    before = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False  # the driver logs these lines; this process's stderr would repeat them
    try:
        record = run_pair(job, cell, seed, lambda e: events.append(jsonable(e)), log, on_step)
    finally:
        log.removeHandler(keeper)
        log.setLevel(before[0])
        log.propagate = before[1]
    return record, events, keeper.lines


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def lost(job: PairJob, cell: Cell, seed: int, error: BaseException) -> dict:
    """The "failed" record of a pair whose process died before it could send one back."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return {"cell": cell.name, "seed": seed, "status": "failed", "metrics": {}, "device": job.device,
            "message": f"{type(error).__name__}: {first}", "traceback": str(error), "seconds": 0.0}


def deliver(collected: Collected, finished: Callable[[dict, list[dict]], None], log: logging.Logger) -> None:
    """In the driver: log a remote pair's lines, then hand its record and events to `finished`."""
    record, events, lines = collected
    for level, message in lines:
        log.log(level, "%s", message)
    finished(record, events)
