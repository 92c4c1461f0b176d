"""`blocklab run --jobs N`: the (cell, seed) pairs run N at a time, each in a worker process on one thread.

The workers are forked from a "forkserver" process that imported torch, this module and the
run's studies once (where the OS has one; elsewhere each is a fresh "spawn" interpreter): no torch state
or threads are copied from the driver, and a worker starts in a fraction of torch's import time. They are
kept for every study of one `blocklab run`; in a group two studies submit to them at once (overlap.py),
and an interrupt of either stops the workers and both. Each unit (one pair, or the seeds of a cell the
study stacks) runs through pair.collected_unit,
exactly as it would in the driver (seeded the same, on the same thread count), and returns
its record, step events and log lines; the driver writes them, so results.json is still
written by one process only, atomically, after each finished pair. While pairs run, the
workers send their step counts to the driver, which shows one progress line per worker
under the study lines. A worker whose driver dies (even by SIGKILL) exits at once, so that
it does not go on writing the checkpoints of a pair that a rerun resumes.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

from tqdm import tqdm

from .pair import Collected, PairJob, Unit, advance, bars_on, collected_unit, deliver, lost, seeds_label

_SEND_EVERY = 0.2  # seconds between a worker's step reports; the lines need no more
_steps: Any = None  # in a worker: the queue its step counts go to (None when no progress lines are shown)


def machine_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS keeps one, else every core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


class WorkerPool:
    """Up to `jobs` worker processes, started when the first pair is submitted and kept until closed.
    `modules` (the run's studies) are imported once for every worker, before it starts."""

    def __init__(self, jobs: int, modules: Sequence[str] = ()) -> None:
        self.jobs = jobs
        self._context = _context(modules)
        self.steps = self._context.Queue() if bars_on() else None
        self.lines = _WorkerLines(self.steps)  # shared by the studies in flight, as the workers are
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # the studies of a group run in flight submit from threads of their own
        self.interrupted = False  # set by the first stop: every study in flight then stops too
        self._tails: dict[int, threading.Event] = {}  # driver thread -> set once its units are all on workers

    def watch_tail(self, event: threading.Event) -> None:
        """Set `event` once the units this thread submits are all on workers: its last ones run, none waits."""
        self._tails[threading.get_ident()] = event

    def units_left(self, waiting_or_running: int) -> None:
        """In a driver thread: its units not ended yet; when they all fit on the workers, its tail event is set."""
        if waiting_or_running <= self.jobs and threading.get_ident() in self._tails:
            self._tails.pop(threading.get_ident()).set()

    def submit(self, job: PairJob, unit: Unit) -> Future:
        with self._lock:
            if self.interrupted:  # a study that starts after an interrupt runs nothing
                raise KeyboardInterrupt
            if self._executor is None or getattr(self._executor, "_broken", False):  # a killed worker breaks a pool
                self._executor = ProcessPoolExecutor(self.jobs, mp_context=self._context,
                                                     initializer=_start_worker, initargs=(self.steps,))
            return self._executor.submit(collected_unit_in_worker, job, unit)

    def stop(self) -> None:
        """End the workers now, pairs in flight included (their checkpoints let a rerun resume them),
        and tell every study in flight to stop."""
        with self._lock:
            self.interrupted = True
            if self._executor is None:
                return
            for process in list(getattr(self._executor, "_processes", {}).values()):  # no public way before 3.14
                process.terminate()
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop() if exc[0] is not None else self.close()


def _context(modules: Sequence[str]) -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # torch, the pair code and the run's studies, imported once for every worker; only the first pool of a process
    # starts the forkserver, and a study it lacks is imported by the worker that unpickles it
    context.set_forkserver_preload([__name__, *modules])
    return context


def _start_worker(steps: Any) -> None:
    global _steps
    _steps = steps
    threading.Thread(target=_exit_with_driver, daemon=True).start()


def _exit_with_driver() -> None:
    """End this worker when the driver is gone. A driver killed outright (SIGKILL, the OOM killer) cannot stop its
    workers, and a worker left training would go on writing its pair's checkpoints while a rerun resumes that pair."""
    driver = multiprocessing.parent_process()  # forkserver and spawn: the process that asked for this worker
    if driver is not None:
        driver.join()  # returns when the driver's end of its pipe to this worker closes, however the driver ended
        os._exit(1)


def collected_unit_in_worker(job: PairJob, unit: Unit) -> Collected:
    on_step = _StepSender(_steps, f"{unit[0].name} {seeds_label(unit[1])}") if _steps is not None else _ignore
    return collected_unit(job, unit, on_step)


def _ignore(step: int, total: int) -> None:
    pass


class _StepSender:
    """A worker's step counts, sent to the driver at most every _SEND_EVERY seconds (and the last one always)."""

    def __init__(self, steps: Any, label: str) -> None:
        self.steps, self.label, self.sent = steps, label, 0.0

    def __call__(self, step: int, total: int) -> None:
        now = time.monotonic()
        if step >= total or now - self.sent >= _SEND_EVERY:
            self.steps.put((os.getpid(), self.label, step, total))
            self.sent = now


class _WorkerLines:
    """One progress line per worker, below the study's line: the unit it runs and its step. The lines are shown
    while any study in flight (two in a group run) runs units, and cleared when the last of them ends."""

    def __init__(self, steps: Any) -> None:
        self.steps = steps
        self.bars: dict[int, tqdm] = {}
        self.units: dict[int, str] = {}
        self.users = 0  # studies in run_in_pool
        self._lock = threading.Lock()

    def __enter__(self) -> _WorkerLines:
        with self._lock:
            self.users += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.users -= 1
            if self.users == 0:
                self._drain()  # the last counts, so that lines shown later start clean
                for bar in self.bars.values():
                    bar.close()
                self.bars.clear()
                self.units.clear()

    def drain(self) -> None:
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        while self.steps is not None:
            try:
                pid, label, step, total = self.steps.get_nowait()
            except queue.Empty:
                return
            if pid not in self.bars:  # tqdm gives it the first free line: below the study lines shown by then
                self.bars[pid] = tqdm(unit="step", leave=False, dynamic_ncols=True)
            first = self.units.get(pid) != label
            if first:
                self.units[pid] = label
                self.bars[pid].set_description(label, refresh=False)
            advance(self.bars[pid], step, total, first)


def run_in_pool(pool: WorkerPool, job: PairJob, units: list[Unit], bar: tqdm,
                finished: Callable[[dict, list[dict]], None], log: logging.Logger) -> None:
    """Run `units` on the pool's workers, handing each record to `finished` in the driver as its unit ends.
    Another study may run units on the same pool meanwhile (a group run); when one of them is interrupted,
    the pool stops and every one stops."""
    running: dict[Future, Unit] = {}
    try:
        with pool.lines:
            running.update((pool.submit(job, unit), unit) for unit in units)
            while running:
                pool.units_left(len(running))
                done, _ = wait(running, timeout=_SEND_EVERY, return_when=FIRST_COMPLETED)
                pool.lines.drain()
                for future in done:
                    if pool.interrupted:  # another study's interrupt stopped these workers: their units did not fail
                        raise KeyboardInterrupt
                    unit = running.pop(future)
                    deliver(_collected(pool, job, unit, future, log), finished, log)
                    bar.update(len(unit[1]))
                if pool.interrupted:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        pool.stop()
        log.warning("interrupted; %d units were stopped; rerun the same command to resume", len(running))
        raise


def _collected(pool: WorkerPool, job: PairJob, unit: Unit, future: Future, log: logging.Logger) -> Collected:
    try:
        return future.result()
    except (BrokenProcessPool, CancelledError, OSError) as e:
        if pool.interrupted:  # stopped by an interrupt between the check and here
            raise KeyboardInterrupt from None
        log.error("%s %s failed: its worker process died: %s", unit[0].name, seeds_label(unit[1]), e)
        return lost(job, unit, e)
