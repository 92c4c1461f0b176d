"""A group run on worker processes (`blocklab run all --jobs N`): the next study starts while one finishes.

A study submits all its units to the shared WorkerPool, whose queue runs them first come, first served.
Once its last units are all on workers, the next study starts in a driver thread of its own: its units
take each worker that frees up, while the first study's last units run and while its driver thread
measures claims and draws figures. At most two studies are in flight; each runs through the same
runner code as in a sequential run, into its own folder, so its results.json, metrics.jsonl and log.txt
are those of a sequential run, and its wall time counts from its start, as when run alone.

Ctrl-C (KeyboardInterrupt in the main thread) stops the workers; each study in flight then stops
as it would alone (what finished is saved, a rerun resumes the rest), and the studies not started never start.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence, TypeVar

from .processes import WorkerPool

IN_FLIGHT = 2  # the study finishing and the next: enough to keep every worker busy between studies
_POLL = 0.2  # seconds between the main thread's looks at the studies, so that Ctrl-C reaches it at once

P = TypeVar("P")


def run_overlapped(pool: WorkerPool, plans: Sequence[P], run_one: Callable[[P], None]) -> None:
    """run_one(plan) for every plan, in order, each in a thread, the next one once the one before has all its
    units on workers (or ended), IN_FLIGHT at most. The first exception (in plan order) is raised once the studies
    in flight have ended; the studies not started then never start."""
    futures: list[Future] = []
    with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="blocklab-study") as studies:
        try:
            for p in plans:
                tail = threading.Event()
                futures.append(studies.submit(_watched, pool, tail, run_one, p))
                while not tail.wait(_POLL):
                    pass
                if _failed(futures) is not None:
                    break
            _cancel_and_wait(futures) if _failed(futures) is not None else wait(futures)
        except KeyboardInterrupt:
            pool.stop()  # the studies in flight see it within a poll, save what finished and end
            _cancel_and_wait(futures)
            raise
    failed = _failed(futures)
    if failed is not None:
        raise failed.exception()


def _watched(pool: WorkerPool, tail: threading.Event, run_one: Callable[[P], None], plan: P) -> None:
    pool.watch_tail(tail)
    try:
        run_one(plan)
    finally:
        tail.set()


def _failed(futures: list[Future]) -> Future | None:
    return next((f for f in futures if f.done() and not f.cancelled() and f.exception() is not None), None)


def _cancel_and_wait(futures: list[Future]) -> None:
    for f in futures:
        f.cancel()  # only those not started yet
    pending = {f for f in futures if not f.cancelled()}
    while pending:  # in steps, so that a second Ctrl-C is not held up
        _, pending = wait(pending, timeout=_POLL)
