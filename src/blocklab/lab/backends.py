"""Where a study's (cell, seed) pairs run: on this machine, or as Ray tasks.

    blocklab run STUDY                                  # "local": one worker process per core
    blocklab run STUDY --jobs 1                         # "local", one pair after another in this process
    blocklab run STUDY --backend ray                    # a local Ray started for the run
    blocklab run STUDY --backend ray --address auto     # a running cluster (or RAY_ADDRESS)

Every pair runs through pair.run_unit, which seeds python, numpy and torch with the pair's seed,
runs the study's run_cell on BLOCKLAB_THREADS torch threads, and turns an exception into a
"failed" record, so a pair gives the same metrics on every backend. The unit of work is one cell
and its seeds: one pair, or every pending seed of a cell the study stacks (pair.run_stack). The driver (runner.py)
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
from .pair import Emit, PairJob, Unit, bars_on, collected_unit, deliver, lost, run_unit, seeds_label
from .processes import WorkerPool, run_in_pool

Finished = Callable[[dict, list[dict]], None]  # (pair record, its step events not yet written)
BACKENDS = ("local", "ray")


def run_units(backend: str, job: PairJob, units: list[Unit], finished: Finished, emit: Emit,
              log: logging.Logger, address: str | None = None, pool: WorkerPool | None = None) -> None:
    """Run `units` on `backend`, calling finished(record, events) in the driver as each pair ends.

    "local" runs them in this process one after another, or on `pool`'s worker processes when one is given.
    """
    if backend == "local":
        with _pairs_bar(job, units) as bar:
            if pool is not None and units:
                run_in_pool(pool, job, units, bar, finished, log)
                return
            for unit in units:
                bar.set_postfix_str(f"{unit[0].name} {seeds_label(unit[1])}")
                for record in run_unit(job, unit, emit, log):
                    finished(record, [])
                bar.update(len(unit[1]))
    elif backend == "ray":
        if units:  # a finished folder needs no cluster
            _run_on_ray(job, units, finished, log, address)
    else:
        raise choice_error("blocklab run", "backend", backend, BACKENDS)


def _pairs_bar(job: PairJob, units: list[Unit]) -> tqdm:
    return tqdm(total=sum(len(seeds) for _, seeds in units), desc=job.study.name, unit="run",
                disable=not bars_on(), dynamic_ncols=True)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BlocklabError("--backend ray needs Ray, which is not installed: pip install 'blocklab[ray]'") from None
    return ray


def _run_on_ray(job: PairJob, units: list[Unit], finished: Finished, log: logging.Logger,
                address: str | None) -> None:
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:  # address None starts a local Ray unless RAY_ADDRESS names a cluster
        try:
            ray.init(address=address, include_dashboard=False)
        except ConnectionError as err:
            raise BlocklabError(f"--backend ray --address {address!r}: {err}") from None
    try:
        task = ray.remote(num_cpus=1)(collected_unit)
        shared = ray.put(job)
        running = {task.remote(shared, unit): unit for unit in units}
        log.info("%d units submitted to Ray (%s CPUs)", len(running), ray.cluster_resources().get("CPU", "?"))
        with _pairs_bar(job, units) as bar:
            try:
                while running:
                    [ref], _ = ray.wait(list(running), num_returns=1)
                    unit = running.pop(ref)
                    try:
                        collected = ray.get(ref)
                    except ray.exceptions.RayError as e:  # the task or its worker died (killed, out of memory)
                        collected = lost(job, unit, e)
                        log.error("%s %s failed on Ray: %s", unit[0].name, seeds_label(unit[1]),
                                  collected[0][0]["message"])
                    deliver(collected, finished, log)
                    bar.update(len(unit[1]))
            except KeyboardInterrupt:
                for ref in running:
                    ray.cancel(ref, force=True)
                log.warning("interrupted; %d units were cancelled; rerun the same command to resume", len(running))
                raise
    finally:
        if started_here:
            ray.shutdown()
