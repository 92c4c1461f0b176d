"""Where a study's (cell, seed) pairs run: one after another in this process, or as Ray tasks.

    blocklab run STUDY                                  # "sequential", the default
    blocklab run STUDY --backend ray                    # a local Ray started for the run
    blocklab run STUDY --backend ray --address auto     # a running cluster (or RAY_ADDRESS)

Both call `run_pair`, which seeds python, numpy and torch with the pair's seed, runs the
study's run_cell on BLOCKLAB_THREADS torch threads, and turns an exception into a "failed"
record, so a pair gives the same metrics on either backend. The driver (runner.py) decides
which pairs are pending and writes results.json after each finished pair, whichever backend
ran it. A Ray worker sends back, with its record, the step events and log lines it would have
written here; they land in metrics.jsonl and log.txt when the pair finishes. On a cluster,
every node needs this blocklab installed and the run folder on a shared file system, so that
an interrupted pair resumes from its checkpoint (without it, the pair reruns from the start).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from ..errors import BlocklabError, choice_error
from ..io import jsonable
from ..train.device import cpu_threads, seed_everything
from .registry import Cell, CellContext, Study

BACKENDS = ("sequential", "ray")
THREADS = int(os.environ.get("BLOCKLAB_THREADS", "1"))  # torch threads per pair; see train.device.cpu_threads

Emit = Callable[[dict], None]  # receives one metrics.jsonl event
Finished = Callable[[dict, list[dict]], None]  # (pair record, its step events not yet written)


@dataclass
class PairJob:
    """What every pair of one study run shares; it travels to Ray workers as it is."""

    study: Study
    cfg: Any
    device: str
    quick: bool
    folder: Path
    threads: int = THREADS


def bars_on() -> bool:
    return sys.stderr.isatty() and os.environ.get("BLOCKLAB_NO_PROGRESS", "") in ("", "0")


def run_pair(job: PairJob, cell: Cell, seed: int, emit: Emit, log: logging.Logger) -> dict:
    """Run one (cell, seed); an exception becomes a "failed" record, an interrupt propagates."""
    work = job.folder / "work" / cell.name / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    steps = tqdm(desc=f"{cell.name} seed {seed}", unit="step", leave=False, disable=not bars_on(), dynamic_ncols=True)

    def progress(step: int, total: int, info: dict | None = None) -> None:
        if steps.total != total:  # first report; a resumed pair starts past 0, which must not count as speed
            steps.reset(total)
            steps.initial = steps.n = steps.last_print_n = step
        steps.update(step - steps.n)
        if info:
            emit({"event": "step", "cell": cell.name, "seed": seed, "step": step, **info})

    ctx = CellContext(job.study.name, job.cfg, cell, seed, job.device, work, job.quick, progress, log)
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
        steps.close()
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def run_pairs(backend: str, job: PairJob, pairs: list[tuple[Cell, int]], finished: Finished, emit: Emit,
              log: logging.Logger, address: str | None = None) -> None:
    """Run `pairs` on `backend`, calling finished(record, events) in the driver as each one ends."""
    if backend == "sequential":
        with _pairs_bar(job, pairs) as bar:
            for cell, seed in pairs:
                bar.set_postfix_str(f"{cell.name} seed {seed}")
                finished(run_pair(job, cell, seed, emit, log), [])
                bar.update(1)
    elif backend == "ray":
        if pairs:  # a finished folder needs no cluster
            _run_on_ray(job, pairs, finished, log, address)
    else:
        raise choice_error("blocklab run", "backend", backend, BACKENDS)


def _pairs_bar(job: PairJob, pairs: list) -> tqdm:
    return tqdm(total=len(pairs), desc=job.study.name, unit="run", disable=not bars_on(), dynamic_ncols=True)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BlocklabError("--backend ray needs Ray, which is not installed: pip install 'blocklab[ray]'") from None
    return ray


def _run_on_ray(job: PairJob, pairs: list[tuple[Cell, int]], finished: Finished, log: logging.Logger,
                address: str | None) -> None:
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:  # address None starts a local Ray unless RAY_ADDRESS names a cluster
        try:
            ray.init(address=address, include_dashboard=False)
        except ConnectionError as err:
            raise BlocklabError(f"--backend ray --address {address!r}: {err}") from None
    try:
        task = ray.remote(num_cpus=1)(_remote_pair)
        shared = ray.put(job)
        running = {task.remote(shared, cell, seed): (cell, seed) for cell, seed in pairs}
        log.info("%d pairs submitted to Ray (%s CPUs)", len(running), ray.cluster_resources().get("CPU", "?"))
        with _pairs_bar(job, pairs) as bar:
            try:
                while running:
                    [ref], _ = ray.wait(list(running), num_returns=1)
                    cell, seed = running.pop(ref)
                    try:
                        record, events, lines = ray.get(ref)
                    except ray.exceptions.RayError as e:  # the task or its worker died (killed, out of memory)
                        record, events, lines = _lost(job, cell, seed, e), [], []
                        log.error("%s seed %d failed on Ray: %s", cell.name, seed, record["message"])
                    for level, message in lines:
                        log.log(level, "%s", message)
                    finished(record, events)
                    bar.update(1)
            except KeyboardInterrupt:
                for ref in running:
                    ray.cancel(ref, force=True)
                log.warning("interrupted; %d pairs were cancelled; rerun the same command to resume", len(running))
                raise
    finally:
        if started_here:
            ray.shutdown()


def _remote_pair(job: PairJob, cell: Cell, seed: int) -> tuple[dict, list[dict], list[tuple[int, str]]]:
    """run_pair in a Ray worker: step events and log lines are kept and sent back with the record."""
    events: list[dict] = []
    log = logging.getLogger(f"blocklab.studies.{job.study.name}")
    keeper = _Keep()
    log.addHandler(keeper)
    before = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False  # the driver logs these lines; the worker's stderr would repeat them
    try:
        record = run_pair(job, cell, seed, lambda e: events.append(jsonable(e)), log)
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


def _lost(job: PairJob, cell: Cell, seed: int, error: Exception) -> dict:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return {"cell": cell.name, "seed": seed, "status": "failed", "metrics": {}, "device": job.device,
            "message": f"{type(error).__name__}: {first}", "traceback": str(error), "seconds": 0.0}

