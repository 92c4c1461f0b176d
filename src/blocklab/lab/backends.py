"""Where a study's (cell, seed) pairs run: on this machine, or as Ray tasks.

    blocklab run STUDY                                  # "local": one worker process per core
    blocklab run STUDY --jobs 1                         # "local", one pair after another in this process
    blocklab run STUDY --backend ray                    # a local Ray started for the run
    blocklab run STUDY --backend ray --address auto     # a running cluster (or RAY_ADDRESS)

Every pair runs through pair.run_pair, which seeds python, numpy and torch with the pair's seed,
runs the study's run_cell on BLOCKLAB_THREADS torch threads, and turns an exception into a
"failed" record, so a pair gives the same metrics on every backend. The driver (runner.py)
decides which pairs are pending and writes results.json after each finished pair, whichever
backend ran it. A worker process (processes.py) or a Ray task sends back, with its record, the
step events and log lines it would have written here; they land in metrics.jsonl and log.txt
when the pair finishes. On a cluster, every node needs this blocklab installed and the run
folder on a shared file system, so that an interrupted pair resumes from its checkpoint
(without it, the pair reruns from the start).
"""
from __future__ import annotations

import logging
from typing import Callable

from tqdm import tqdm

from ..errors import BlocklabError, choice_error
from .pair import Emit, PairJob, bars_on, collected_pair, deliver, lost, run_pair
from .processes import WorkerPool, run_in_pool
from .registry import Cell

Finished = Callable[[dict, list[dict]], None]  # (pair record, its step events not yet written)
BACKENDS = ("local", "ray")


def run_pairs(backend: str, job: PairJob, pairs: list[tuple[Cell, int]], finished: Finished, emit: Emit,
              log: logging.Logger, address: str | None = None, pool: WorkerPool | None = None) -> None:
    """Run `pairs` on `backend`, calling finished(record, events) in the driver as each one ends.

    "local" runs them in this process one after another, or on `pool`'s worker processes when one is given.
    """
    if backend == "local":
        with _pairs_bar(job, pairs) as bar:
            if pool is not None and pairs:
                run_in_pool(pool, job, pairs, bar, finished, log)
                return
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
        task = ray.remote(num_cpus=1)(collected_pair)
        shared = ray.put(job)
        running = {task.remote(shared, cell, seed): (cell, seed) for cell, seed in pairs}
        log.info("%d pairs submitted to Ray (%s CPUs)", len(running), ray.cluster_resources().get("CPU", "?"))
        with _pairs_bar(job, pairs) as bar:
            try:
                while running:
                    [ref], _ = ray.wait(list(running), num_returns=1)
                    cell, seed = running.pop(ref)
                    try:
                        collected = ray.get(ref)
                    except ray.exceptions.RayError as e:  # the task or its worker died (killed, out of memory)
                        collected = lost(job, cell, seed, e), [], []
                        log.error("%s seed %d failed on Ray: %s", cell.name, seed, collected[0]["message"])
                    deliver(collected, finished, log)
                    bar.update(1)
            except KeyboardInterrupt:
                for ref in running:
                    ray.cancel(ref, force=True)
                log.warning("interrupted; %d pairs were cancelled; rerun the same command to resume", len(running))
                raise
    finally:
        if started_here:
            ray.shutdown()
