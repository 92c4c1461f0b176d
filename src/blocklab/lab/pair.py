"""One (cell, seed) pair of a study run: seeded, on its own thread count, an exception kept as a record.

Every backend (backends.py) runs pairs through `run_unit`, so a pair gives the same metrics
wherever it runs. A unit is one cell and the seeds it runs: one seed (`run_pair`, the study's
run_cell), or several of a cell the study stacks (`run_stack`: each seed's Training prepared
under its own seed, all trained in one fit_stacked, each concluded), one record per seed either
way. A unit that runs outside the driver (a worker process, a Ray task) goes through
`collected_unit`, which keeps its step events and log lines to send back with the records: only
the driver writes the run folder's results.json, metrics.jsonl and log.txt.
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
from typing import Any, Callable, Sequence

from tqdm import tqdm

from ..errors import BlocklabError
from ..io import jsonable
from ..tasks.digits import is_number
from ..train.checkpoint import CHECKPOINT, unfinished_step
from ..train.device import cpu_threads, seed_everything
from ..train.result import TrainResult
from ..train.stacked import fit_stacked
from .registry import Cell, CellContext, Study, Training

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
Collected = tuple[list[dict], list[dict], list[tuple[int, str]]]  # (records, step events, (level, log line) pairs)
Unit = tuple[Cell, tuple[int, ...]]  # a cell and the seeds that run together: one, or several the study stacks


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


def seeds_label(seeds: Sequence[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {','.join(map(str, seeds))}"


def run_unit(job: PairJob, unit: Unit, emit: Emit, log: logging.Logger, on_step: OnStep | None = None) -> list[dict]:
    """Run one unit: its records, one per seed in order; an exception becomes "failed" records, an interrupt
    propagates. Step counts go to `on_step`, or to a progress bar of this process when it is None."""
    cell, seeds = unit
    bar = None
    if on_step is None:
        bar = tqdm(desc=f"{cell.name} {seeds_label(seeds)}", unit="step", leave=False, disable=not bars_on(),
                   dynamic_ncols=True)
        on_step = functools.partial(advance, bar)
    try:
        if len(seeds) == 1:
            return [run_pair(job, cell, seeds[0], emit, log, on_step)]
        return run_stack(job, cell, seeds, emit, log, on_step)
    finally:
        if bar is not None:
            bar.close()


def _context(job: PairJob, cell: Cell, seed: int, emit: Emit, log: logging.Logger, on_step: OnStep) -> CellContext:
    work = job.folder / "work" / cell.name / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)

    def progress(step: int, total: int, info: dict | None = None) -> None:
        on_step(step, total)
        if info:
            emit({"event": "step", "cell": cell.name, "seed": seed, "step": step, **info})

    models = job.folder / "models" / cell.name / f"seed{seed}"  # written by the study: model.save(ctx.model_dir)
    return CellContext(job.study.name, job.cfg, cell, seed, job.device, work, job.quick, progress, log, models)


def _record(job: PairJob, cell: Cell, seed: int) -> dict:
    return {"cell": cell.name, "seed": seed, "status": "done", "metrics": {}, "device": job.device, "message": ""}


def _settle(record: dict, metrics: Any) -> None:
    """Put run_cell's (or conclude's) metrics into the pair's record."""
    if not isinstance(metrics, dict):
        raise TypeError(f"run_cell returned {type(metrics).__name__}; it must return a dict of metrics")
    record["metrics"] = json.loads(json.dumps(jsonable(metrics), allow_nan=False))
    record["status"] = "diverged" if metrics.get("diverged") else "done"


def _fail(record: dict, error: Exception, log: logging.Logger) -> None:
    """One broken pair must not cost the others: record it and go on."""
    record.update(status="failed", message=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    log.error("%s seed %d failed: %s", record["cell"], record["seed"], record["message"])


def run_pair(job: PairJob, cell: Cell, seed: int, emit: Emit, log: logging.Logger, on_step: OnStep) -> dict:
    """Run one (cell, seed) through the study's run_cell."""
    ctx = _context(job, cell, seed, emit, log, on_step)
    resumed_at = unfinished_step(ctx.work_dir / CHECKPOINT)  # where fit(run_dir=work) will pick up
    if resumed_at:
        log.info("%s seed %d resumes from its checkpoint at step %d", cell.name, seed, resumed_at)
    seed_everything(seed)
    start = time.perf_counter()
    record = _record(job, cell, seed)
    try:
        with cpu_threads(job.threads):
            _settle(record, job.study.run_cell(cell, seed, ctx))
    except KeyboardInterrupt:
        log.warning("interrupted during %s seed %d; rerun the same command to resume", cell.name, seed)
        raise
    except Exception as e:
        _fail(record, e, log)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def run_stack(job: PairJob, cell: Cell, seeds: Sequence[int], emit: Emit, log: logging.Logger,
              on_step: OnStep) -> list[dict]:
    """Train the seeds of one cell together: each prepared under its own seed (as run_pair seeds run_cell), one
    fit_stacked, each concluded. An error before the training ends fails every seed; one in conclude, its own.
    Each record's seconds are an equal share of the unit's."""
    ctxs = [_context(job, cell, seed, emit, log, on_step) for seed in seeds]
    records = [_record(job, cell, seed) for seed in seeds]
    start = time.perf_counter()
    log.info("%s %s train together", cell.name, seeds_label(seeds))
    try:
        with cpu_threads(job.threads):
            trainings = []
            for ctx in ctxs:
                seed_everything(ctx.seed)
                trainings.append(job.study.prepare(cell, ctx.seed, ctx))
            results = train_together(trainings, [ctx.progress for ctx in ctxs])
            for record, ctx, training, result in zip(records, ctxs, trainings, results):
                try:
                    _settle(record, job.study.conclude(cell, training, result, ctx))
                except Exception as e:
                    _fail(record, e, log)
    except KeyboardInterrupt:
        log.warning("interrupted during %s %s; rerun the same command to run them again", cell.name,
                    seeds_label(seeds))
        raise
    except Exception as e:
        for record in records:
            _fail(record, e, log)
    seconds = round((time.perf_counter() - start) / len(seeds), 3)
    for record in records:
        record["seconds"] = seconds
    return records


def train_together(trainings: Sequence[Training], progress: Sequence[Any] | None = None) -> list[TrainResult]:
    """fit_stacked over prepared Trainings of one cell: one TrainConfig but for the seed, one loss function."""
    first = trainings[0]
    if any(t.train.replace(seed=first.train.seed) != first.train or t.loss_fn is not first.loss_fn
           for t in trainings):
        raise BlocklabError("the seeds of a stacked cell must share their TrainConfig (but for the seed) and loss "
                            "function; prepare built them otherwise")
    return fit_stacked([t.model for t in trainings], [t.data for t in trainings], first.loss_fn, first.train,
                       [t.train.seed for t in trainings], progress)


def collected_unit(job: PairJob, unit: Unit, on_step: OnStep | None = None) -> Collected:
    """run_unit away from the driver: step events and log lines are kept and sent back with the records."""
    events: list[dict] = []
    log = logging.getLogger(f"blocklab.studies.{job.study.name}")
    keeper = _Keep()
    log.addHandler(keeper)
    before = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False  # the driver logs these lines; this process's stderr would repeat them
    try:
        records = run_unit(job, unit, lambda e: events.append(jsonable(e)), log, on_step)
    finally:
        log.removeHandler(keeper)
        log.setLevel(before[0])
        log.propagate = before[1]
    return records, events, keeper.lines


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def lost(job: PairJob, unit: Unit, error: BaseException) -> Collected:
    """The "failed" records of a unit whose process died before it could send them back."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    cell, seeds = unit
    records = [{**_record(job, cell, seed), "status": "failed", "message": f"{type(error).__name__}: {first}",
                "traceback": str(error), "seconds": 0.0} for seed in seeds]
    return records, [], []


def deliver(collected: Collected, finished: Callable[[dict, list[dict]], None], log: logging.Logger) -> None:
    """In the driver: log a remote unit's lines, then hand each record and its step events to `finished`."""
    records, events, lines = collected
    for level, message in lines:
        log.log(level, "%s", message)
    for record in records:
        finished(record, [e for e in events if e.get("seed", record["seed"]) == record["seed"]])
