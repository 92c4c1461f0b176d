"""What every benchmark shares: timing contenders alternately, the machine's description,
text tables and the JSON file.

Contenders are timed call for call in turn (A, B, C, A, B, C, ...), so a busy machine slows
all of them alike; each figure is the median over the repeats, with the quartiles as its
spread. Warm-up calls (allocator, lazy initialisation, autotuning) are not counted.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from ..io import atomic_write_text, jsonable
from ..runtime import set_blas_threads
from ..train.device import cpu_threads


@dataclass
class Stats:
    """Seconds per call: median and quartiles of the wall clock over `n` timed calls, and the
    median CPU time of this process per call (what the call cost, whatever else the machine ran)."""

    median: float
    q1: float
    q3: float
    n: int
    cpu: float | None = None

    @classmethod
    def of(cls, seconds: Sequence[float], cpu_seconds: Sequence[float] | None = None) -> "Stats":
        cpu = statistics.median(cpu_seconds) if cpu_seconds else None
        if len(seconds) == 1:
            return cls(seconds[0], seconds[0], seconds[0], 1, cpu)
        q1, median, q3 = statistics.quantiles(seconds, n=4, method="inclusive")
        return cls(median, q1, q3, len(seconds), cpu)

    def ms(self) -> dict[str, float]:
        """{"ms": median, "q1_ms": ..., "q3_ms": ...[, "cpu_ms": ...]}, rounded to microseconds."""
        out = {"ms": round(1e3 * self.median, 3), "q1_ms": round(1e3 * self.q1, 3), "q3_ms": round(1e3 * self.q3, 3)}
        if self.cpu is not None:
            out["cpu_ms"] = round(1e3 * self.cpu, 3)
        return out


def time_alternately(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2,
                     sync: Callable[[], None] = lambda: None) -> dict[str, Stats]:
    """Call every fn `warmup` times, then `repeats` times in turn, timing each call.
    `sync` waits for queued device work (torch.cuda.synchronize) so the clock sees it."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            sync()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: Stats.of(wall[name], cpu[name]) for name in fns}


def device_sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


@contextlib.contextmanager
def fixed_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads and numpy's BLAS threads set to n for the block (torch restored after)."""
    set_blas_threads(n)
    with cpu_threads(n):
        yield


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other processes competing for the cores), if the OS has them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(device: torch.device, threads: int) -> dict:
    """Where the figures were measured: recorded in every benchmark's JSON."""
    env = {
        "device": device.type, "cpu": cpu_name(), "cores": os.cpu_count(), "threads": threads,
        "torch": torch.__version__, "python": platform.python_version(), "load_average_start": load_average(),
        "cuda_measured": device.type == "cuda", "transformers": _version("transformers"),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cuda_note(device: torch.device) -> str | None:
    """The line every table prints when it ran without a GPU, so no one reads CPU numbers as GPU ones."""
    if device.type == "cuda":
        return None
    why = "no GPU on this machine" if not torch.cuda.is_available() else f"--device {device.type} was asked for"
    return f"CUDA was not measured here ({why}); on a GPU the same command times CUDA with bf16 autocast"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned, widths from the contents."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: str | os.PathLike, command: str, env: dict, results: object) -> None:
    """One benchmark's file: the command that reproduces it, the machine, the results (written atomically)."""
    env = {**env, "load_average_end": load_average()}
    payload = {"command": command, "environment": env, "results": results}
    atomic_write_text(path, json.dumps(jsonable(payload), indent=1) + "\n")


def stats_dict(stats: Stats) -> dict:
    return {**stats.ms(), "repeats": stats.n}



@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: the profiler's C++ side prints start/stop lines there, which
    Python's sys.stderr cannot catch, and they would land between progress bars and tables."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def peak_memory(fn: Callable[[], object], device: torch.device) -> int:
    """Bytes allocated at the high point of one call of fn, beyond what was allocated before it.

    CUDA keeps the count itself; on the CPU the profiler records every allocation and free,
    and the running sum of those events is walked for its maximum."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile


    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # The raw events, in time order: prof.events() would fold frees into their enclosing ranges.
    events = sorted(prof.profiler.kineto_results.events(), key=lambda e: e.start_ns())
    running = peak = 0
    for e in events:
        if e.name() == "[memory]":
            running += e.nbytes()
            peak = max(peak, running)
    return peak
