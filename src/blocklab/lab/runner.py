"""Run a registered study (or a group of them) into a folder that survives interrupts.

A run folder holds results.json (see report/results.py), metrics.jsonl (one line per
progress report with metrics and one per finished pair), log.txt, figures/*.png,
work/<cell>/seed<k>/, the pair's own folder for trainer checkpoints, and models/<cell>/seed<k>/,
the pair's final model where the study trains a blocklab.nn model (docs/models.md).

results.json is rewritten atomically after every finished (cell, seed), so an interrupt
loses only the pairs in flight, and each resumes from its checkpoint on the next run.
Pairs that are done or diverged are never run again; failed ones are retried. Seeds run
in the outer loop, so a run stopped early still has every cell on its first seeds; the pending
seeds of a cell the study stacks (Study.stacks) run as one unit instead, trained together. The
units run one after another here, on worker processes (--jobs), or as Ray tasks (backends.py);
runs are kept in that order whichever finishes first, so every backend writes the same results.json.
results["timing"]["wall"] holds the wall seconds of the latest invocation on the folder
(pairs, figures and measurements), which `blocklab run` prints per study.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import platform
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import AbstractSet, Any, Iterator, Mapping

from tqdm import tqdm

from .. import __version__
from ..config.check import field_hints, nested_class
from ..errors import BlocklabError, choice_error
from ..io import jsonable
from ..report import results as res
from ..report.verdicts import Measurement
from ..train.config import RESUMABLE, TrainConfig
from ..train.device import resolve_device
from .backends import BACKENDS, run_units
from .overlap import run_overlapped
from .pair import PairJob, Unit, env_threads
from .processes import WorkerPool
from .registry import _CELL, Cell, Study, build_config, default_seeds, get_study, group_members, load_all

RUNS = Path("runs")
_FIGURES = threading.Lock()  # matplotlib's pyplot is not thread-safe: two studies in flight draw one at a time


def run_study(name: str, seeds: int | None = None, quick: bool = False, device: str = "auto",
              out: str | Path | None = None, overrides: Mapping[str, Any] | None = None, backend: str = "local",
              address: str | None = None, jobs: int = 1) -> Path:
    """Run study or group `name` on seeds 0..seeds-1; returns its folder (runs/<name>[-quick] unless `out` is given).

    `seeds` None gives each study its own default (registry.default_seeds: Study.seeds, or 3 with `quick`).

    A group runs each member into a subfolder; its --set keys read `<study>.<key>`. A member
    that stops with an error (its results.json keeps it under "error") does not stop the group.
    `backend` is where the pairs run ("local" or "ray"; `address` names a Ray cluster). With "local",
    `jobs` pairs run at once, each in a worker process (processes.py); 1 runs them here, one after another.
    Everything `plan` checks is checked for every member before anything runs or is written.
    """
    check_options(seeds, backend, jobs)
    plans = plan(name, quick, out, overrides, device, seeds)
    grouped = group_members(name) is not None
    pool = WorkerPool(jobs, [type(p.study).__module__ for p in plans]) if jobs > 1 else None  # for every member

    def run_member(p: Plan) -> None:
        try:
            _run_one(p, quick=quick, device=device, backend=backend, address=address, pool=pool)
        except Exception as e:  # in a group, go on if the error is logged and kept in the member's results.json
            if not grouped or _kept_error(p.folder / res.RESULTS_FILE) != _error_line(e):
                raise

    with pool or contextlib.nullcontext():
        if grouped and pool is not None:  # the next study's units keep the workers busy while one finishes
            run_overlapped(pool, plans, run_member)
        else:
            for p in plans:
                run_member(p)
    return _folder(name, quick, out)


def check_options(seeds: int | None, backend: str, jobs: int) -> None:
    """The run options that do not depend on the study: seed count (None: each study's default), backend, jobs,
    BLOCKLAB_THREADS."""
    env_threads()
    if seeds is not None and seeds < 1:
        raise BlocklabError(f"--seeds {seeds}: at least one seed is needed")
    if backend not in BACKENDS:
        raise choice_error("blocklab run", "backend", backend, BACKENDS)
    if jobs < 1:
        raise BlocklabError(f"--jobs {jobs}: at least one job is needed")
    if jobs > 1 and backend != "local":
        raise BlocklabError(f"--jobs {jobs} runs pairs in processes on this machine; with --backend {backend}, "
                            "the cluster decides how many run at once")


@dataclasses.dataclass
class Plan:
    """One study of a run, checked and not yet started: what `blocklab run --dry-run` prints."""

    study: Study
    folder: Path
    overrides: dict
    cfg: Any  # the study's Config with --quick and --set applied
    cells: list[Cell]
    results: dict | None  # the folder's results.json, when it has one (of the same run: checked)
    device: str  # resolved: "cpu", "cuda"
    seeds: int  # seeds 0..seeds-1 run: --seeds, else the study's default

    def pending(self) -> int:
        """Pairs of seeds 0..seeds-1 not finished yet."""
        done = {(r["cell"], r["seed"]) for r in (self.results or {}).get("runs", []) if r["status"] in res.FINISHED}
        return sum((c.name, s) not in done for s in range(self.seeds) for c in self.cells)


def plan(name: str, quick: bool = False, out: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
         device: str = "auto", seeds: int | None = None) -> list[Plan]:
    """What running `name` (a study or a group) would do, after every check a run makes before it starts:
    the name, each study's config (--quick, --set), its cells, its seeds (`seeds`, else its default), the
    device, and that a results.json already in a folder is of the same run. Reads only: nothing is run or written."""
    load_all()
    folder = _folder(name, quick, out)
    members = group_members(name)
    if members is None:
        return [_plan_one(get_study(name), folder, dict(overrides or {}), quick, device, seeds)]
    if not members:
        raise BlocklabError(f"the group {name!r} has no registered studies yet")
    per_study: dict[str, dict] = {m: {} for m in members}
    for key, value in (overrides or {}).items():
        study, _, field = key.partition(".")
        if study not in per_study or not field:
            raise BlocklabError(f"--set {key}: in group {name!r}, write <study>.<key>; studies: {', '.join(members)}")
        per_study[study][field] = value
    # every member is checked first: a typo for the last study should not wait for the first to finish
    return [_plan_one(get_study(m), folder / m, per_study[m], quick, device, seeds) for m in members]


def _folder(name: str, quick: bool, out: str | Path | None) -> Path:
    return Path(out) if out is not None else RUNS / f"{name}{'-quick' if quick else ''}"


def _plan_one(study: Study, folder: Path, overrides: dict, quick: bool, device: str, seeds: int | None) -> Plan:
    cfg = build_config(study, quick, overrides)
    cells = study.cells(cfg)
    _check_cells(study, cells)
    path = folder / res.RESULTS_FILE
    results = res.load(path) if path.exists() else None
    if results is not None:
        _check_same_run(results, study, jsonable(dataclasses.asdict(cfg)), path, _resumable_keys(study.Config))
    return Plan(study, folder, overrides, cfg, cells, results, str(resolve_device(device)),
                default_seeds(study, quick) if seeds is None else seeds)


def _run_one(p: Plan, quick: bool, device: str, backend: str, address: str | None,
             pool: WorkerPool | None) -> None:
    began = time.perf_counter()
    study, folder, cells, dev = p.study, p.folder, p.cells, p.device
    config = jsonable(dataclasses.asdict(p.cfg))
    path = folder / res.RESULTS_FILE
    results = p.results if p.results is not None else _fresh(study, config, quick)
    seed_list = sorted(set(results["seeds"]) | set(range(p.seeds)))
    results.update(
        description=study.description, command=_command(study.name, len(seed_list), quick, device, folder,
                                                        p.overrides),
        quick=quick, seeds=seed_list, versions=_versions(), device=dev, cells=[dataclasses.asdict(c) for c in cells],
        **_commit(),
    )
    done = {(r["cell"], r["seed"]) for r in results["runs"] if r["status"] in res.FINISHED}
    pending = [(c, s) for s in range(p.seeds) for c in cells if (c.name, s) not in done]
    order = {(c.name, s): (s, i) for i, c in enumerate(cells) for s in seed_list}
    log = logging.getLogger(f"blocklab.studies.{study.name}")
    with _logging_to(folder / "log.txt"), open(folder / "metrics.jsonl", "a", encoding="utf-8") as jsonl:
        def emit(event: dict) -> None:
            jsonl.write(json.dumps(jsonable(event)) + "\n")

        def finished(record: dict, events: list[dict]) -> None:
            pair = (record["cell"], record["seed"])
            results["runs"] = sorted([r for r in results["runs"] if (r["cell"], r["seed"]) != pair] + [record],
                                     key=lambda r: order.get((r["cell"], r["seed"]), (r["seed"], len(cells))))
            _finish_update(results, cells)
            res.save(results, path)
            for event in [*events, {"event": "pair", **record}]:
                emit(event)
            jsonl.flush()

        results.pop("error", None)
        res.save(results, path)
        try:
            run_units(backend, PairJob(study, p.cfg, dev, quick, folder.resolve()), units(study, p.cfg, pending),
                      finished, emit, log, address, pool)
            results["measurements"] = [m.to_dict() for m in _measure(study, results)]
            with _FIGURES:
                results["figures"] = draw_figures(study, results, folder)
        except Exception as e:  # a bug outside run_cell (figures, measure, a lost Ray cluster): keep it, then raise
            log.exception("%s stopped: %s", study.name, e)
            results["error"] = _error_line(e)
            raise
        finally:
            results["timing"]["wall"] = round(time.perf_counter() - began, 3)
            res.save(results, path)


def units(study: Study, cfg: Any, pending: list[tuple[Cell, int]]) -> list[Unit]:
    """The pending pairs as units of work, in their order: every pending seed of a cell the study stacks
    trains together (at the place of its first), every other pair alone."""
    out: list[Unit] = []
    stacked: dict[str, int] = {}  # cell name -> its unit's index in out
    for cell, seed in pending:
        if cell.name in stacked:
            at = stacked[cell.name]
            out[at] = (cell, (*out[at][1], seed))
            continue
        if study.stacks(cell, cfg):
            stacked[cell.name] = len(out)
        out.append((cell, (seed,)))
    return out


def _error_line(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


def _kept_error(path: Path) -> str | None:
    return res.load(path).get("error") if path.exists() else None


def _finish_update(results: dict, cells: list[Cell]) -> None:
    results["aggregates"] = res.aggregate(results)
    finished = {(r["cell"], r["seed"]) for r in results["runs"] if r["status"] in res.FINISHED}
    results["complete"] = all((c.name, s) in finished for c in cells for s in results["seeds"])
    results["timing"].update(updated=_now(), seconds=round(sum(r.get("seconds", 0) for r in results["runs"]), 3))


def _measure(study: Study, results: dict) -> list[Measurement]:
    measurements = study.measure(results)
    for m in measurements:
        if not isinstance(m, Measurement):
            raise TypeError(f"{study.name}.measure() must return Measurement objects, got {type(m).__name__}")
        if m.claim_id not in study.claims:
            raise ValueError(f"{study.name}.measure() measured {m.claim_id}, which is not in its claims {study.claims}")
        m.command = results["command"]
    return measurements


def draw_figures(study: Study, results: dict, folder: Path) -> list[str]:
    """Let the study draw its figures from `results` into folder/figures; returns their names."""
    fig_dir = folder / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    names = list(study.figures(results, fig_dir))
    missing = [n for n in names if not (fig_dir / n).is_file()]
    if missing:
        raise ValueError(f"{study.name}.figures() listed figures it did not write: {missing}")
    return names


def replot(root: str | Path) -> list[Path]:
    """Redraw the figures of every results.json at or below `root`, without running anything."""
    paths = res.find_results(root)
    if not paths:
        raise BlocklabError(f"no {res.RESULTS_FILE} found at or below {root}")
    for path in paths:
        results = res.load(path)
        results["figures"] = draw_figures(get_study(results["study"]), results, path.parent)
        res.save(results, path)
    return paths


def _check_cells(study: Study, cells: list[Cell]) -> None:
    names = [c.name for c in cells]
    bad = [n for n in names if not _CELL.match(n)]
    if bad or len(set(names)) != len(names) or not names:
        raise ValueError(f"{study.name}.cells() must give unique, folder-safe names (letters, digits, ._=+,-); "
                         f"got {names}")


def _resumable_keys(config_class: type, prefix: str = "") -> set[str]:
    """Dotted keys of the trainer settings nested in a study's Config that change no value of a run
    (TrainConfig's RESUMABLE: checkpoint intervals, TensorBoard, ...): a rerun may change them."""
    keys: set[str] = set()
    for name, hint in field_hints(config_class).items():
        inner = nested_class(hint)
        if inner is TrainConfig:
            keys |= {f"{prefix}{name}.{k}" for k in RESUMABLE}
        elif inner is not None:
            keys |= _resumable_keys(inner, f"{prefix}{name}.")
    return keys


def _check_same_run(results: dict, study: Study, config: dict, path: Path,
                    free: AbstractSet[str] = frozenset()) -> None:
    """Refuse to add to `path` runs of another config; the keys in `free` may differ."""
    if results["study"] != study.name:
        raise BlocklabError(f"{path} holds the study {results['study']!r}, not {study.name!r}; pass another --out")
    stored, asked = _dotted(results["config"]), _dotted(config)
    keys = stored.keys() | asked.keys()
    if _nests(config) and not _nests(results["config"]):
        # written before the studies nested the trainer's settings ("steps", not "train.steps"): compare what
        # both name, reading a flat trainer setting as the nested train's
        stored = {(f"train.{k}" if f"train.{k}" in asked and k not in asked else k): v for k, v in stored.items()}
        keys = stored.keys() & asked.keys()
    changed = sorted(k for k in keys - free if stored.get(k) != asked.get(k))
    if changed:
        diff = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {asked.get(k)!r}" for k in changed)
        raise BlocklabError(f"{path} was run with another config ({diff}); pass another --out to keep both, "
                            f"or delete {path.parent} to start over")


def _nests(config: dict) -> bool:
    return any(isinstance(v, dict) for v in config.values())


def _dotted(config: dict, prefix: str = "") -> dict[str, Any]:
    """A config as {dotted key: value}: {"train": {"lr": 1}} -> {"train.lr": 1}."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        out.update(_dotted(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def _fresh(study: Study, config: dict, quick: bool) -> dict:
    return {"schema": res.SCHEMA, "study": study.name, "description": "", "command": "", "config": config,
            "quick": quick, "seeds": [], "versions": {}, "commit": "unknown", "dirty": False, "device": "",
            "cells": [], "runs": [], "aggregates": {}, "measurements": [], "figures": [],
            "timing": {"started": _now(), "updated": _now(), "seconds": 0.0}, "complete": False}


def _command(name: str, seeds: int, quick: bool, device: str, folder: Path, overrides: Mapping[str, Any]) -> str:
    """The `blocklab run` line that reproduces this folder."""
    parts = ["blocklab", "run", name, "--seeds", str(seeds)] + (["--quick"] if quick else [])
    if device != "auto":
        parts += ["--device", device]
    if folder != RUNS / f"{name}{'-quick' if quick else ''}":
        parts += ["--out", str(folder)]
    for key, value in overrides.items():
        parts += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return shlex.join(parts)


def _versions() -> dict[str, str]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), "torch": version("torch"), "numpy": version("numpy"),
            "blocklab": __version__}


def _commit() -> dict[str, Any]:
    """The git commit of the blocklab source, and whether it has uncommitted changes."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(git("status", "--porcelain", "-uno").strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": False}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _TqdmHandler(logging.Handler):
    """Log lines printed above the progress bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


class _ThreadOnly(logging.Filter):
    """The records logged by one thread: the study's, whose units, measurements and figures run there
    (in a group run on worker processes, two studies run at once, each in a thread of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


class _StudiesLogger:
    """The "blocklab.studies" logger, at INFO while any study runs (two at once in a group run on worker
    processes); its own level comes back when the last ends."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("blocklab.studies")
        self.lock = threading.Lock()
        self.studies = 0
        self.level = logging.NOTSET

    def add(self, handlers: list[logging.Handler]) -> None:
        with self.lock:
            if self.studies == 0:
                self.level = self.logger.level
                self.logger.setLevel(logging.INFO)
            self.studies += 1
            for h in handlers:
                self.logger.addHandler(h)

    def remove(self, handlers: list[logging.Handler]) -> None:
        with self.lock:
            for h in handlers:
                self.logger.removeHandler(h)
                h.close()
            self.studies -= 1
            if self.studies == 0:
                self.logger.setLevel(self.level)


_STUDIES_LOGGER = _StudiesLogger()


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """While a study runs, its log (the lines logged by its thread, under the "blocklab.studies" logger)
    goes to the terminal and to the run folder's log.txt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [_TqdmHandler(), logging.FileHandler(path, encoding="utf-8")]
    only_this_thread = _ThreadOnly()
    for h in handlers:
        h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        h.addFilter(only_this_thread)
    _STUDIES_LOGGER.add(handlers)
    try:
        yield
    finally:
        _STUDIES_LOGGER.remove(handlers)


def time_table(folder: Path, total: float) -> tuple[str, bool]:
    """(a table of each study under `folder`: status, wall seconds of its latest run, pairs by status, then the
    total; whether any study stopped with an error or has failed pairs)."""
    rows = []
    for path in res.find_results(folder):
        r = res.load(path)
        counts = [sum(x["status"] == s for x in r["runs"]) for s in res.STATUSES]
        status = "error" if r.get("error") else "failed" if counts[2] else "complete" if r["complete"] else "incomplete"
        rows.append((r["study"], status, f"{r['timing'].get('wall', float('nan')):.1f}", *map(str, counts)))
    header = ("study", "status", "wall s", *res.STATUSES)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    total_line = f"total {total:.1f} s wall for {len(rows)} {'study' if len(rows) == 1 else 'studies'}"
    return "\n".join([*lines, total_line]), any(row[1] in ("error", "failed") for row in rows)
