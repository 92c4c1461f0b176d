"""A group run on worker processes (`blocklab run all --jobs N`): two studies in flight at once.

Each study submits all its units to the shared WorkerPool, whose queue runs them first come, first served.
With the next study in flight too, its units start on a worker as soon as one is free: while the
first study's last units run, and while its driver thread measures claims and draws figures, the
workers train the next one's pairs. Each study runs in a driver thread of its own through the same
runner code as in a sequential run, into its own folder, so its results.json, metrics.jsonl and log.txt
are those of a sequential run; a third study starts when one of the two ends.

Ctrl-C (KeyboardInterrupt in the main thread) stops the workers; each study in flight then stops
as it would alone (what finished is saved, a rerun resumes the rest), and the studies not started never start.
"""
from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence, TypeVar

from .processes import WorkerPool

IN_FLIGHT = 2  # the study finishing and the next: enough to keep every worker busy between studies
_POLL = 0.2  # seconds between the main thread's looks at the studies, so that Ctrl-C reaches it at once

P = TypeVar("P")


def run_overlapped(pool: WorkerPool, plans: Sequence[P], run_one: Callable[[P], None]) -> None:
    """run_one(plan) for every plan, in order, IN_FLIGHT at a time, each in a thread. The first exception
    (in plan order) is raised once the studies in flight have ended; the studies not started then never start."""
    with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="blocklab-study") as studies:
        futures = [studies.submit(run_one, p) for p in plans]
        try:
            _wait_all(futures)
        except KeyboardInterrupt:
            pool.stop()  # the studies in flight see it within a poll, save what finished and end
            _cancel_and_wait(futures)
            raise
        failed = next((f for f in futures if not f.cancelled() and f.exception() is not None), None)
        if failed is not None:
            raise failed.exception()


def _wait_all(futures: list[Future]) -> None:
    """Until every study ended, or the first stopped with an exception (then cancel the rest and wait for
    those in flight)."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=_POLL, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            _cancel_and_wait(futures)
            return


def _cancel_and_wait(futures: list[Future]) -> None:
    for f in futures:
        f.cancel()  # only those not started yet
    pending = {f for f in futures if not f.cancelled()}
    while pending:
        _, pending = wait(pending, timeout=_POLL)
