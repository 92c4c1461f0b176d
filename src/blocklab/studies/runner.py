"""Run a registered study (or a group of them) into a folder that survives interrupts.

A run folder holds results.json (see report/results.py), metrics.jsonl (one line per
progress report with metrics and one per finished pair), log.txt, figures/*.png, and
work/<cell>/seed<k>/, the pair's own folder for trainer checkpoints.

results.json is rewritten atomically after every finished (cell, seed), so an interrupt
loses only the pair in flight, and that pair resumes from its checkpoint on the next run.
Pairs that are done or diverged are never run again; failed ones are retried. Seeds run
in the outer loop, so a run stopped early still has every cell on its first seeds.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

from tqdm import tqdm

from .. import __version__
from ..errors import BlocklabError
from ..io import jsonable
from ..report import results as res
from ..report.verdicts import Measurement
from ..train.device import cpu_threads, resolve_device, seed_everything
from .registry import _CELL, Cell, CellContext, Study, build_config, get_study, group_members, load_all

RUNS = Path("runs")
THREADS = int(os.environ.get("BLOCKLAB_THREADS", "1"))  # torch threads per pair; see train.device.cpu_threads


def run_study(name: str, seeds: int = 3, quick: bool = False, device: str = "auto", out: str | Path | None = None,
              overrides: Mapping[str, Any] | None = None) -> Path:
    """Run study or group `name`; returns its folder (runs/<name>[-quick] unless `out` is given).

    A group runs each member into a subfolder; its --set keys read `<study>.<key>`.
    """
    if seeds < 1:
        raise BlocklabError(f"--seeds {seeds}: at least one seed is needed")
    load_all()
    folder = Path(out) if out is not None else RUNS / f"{name}{'-quick' if quick else ''}"
    members = group_members(name)
    if members is None:
        _run_one(get_study(name), seeds, quick, device, folder, dict(overrides or {}))
        return folder
    if not members:
        raise BlocklabError(f"the group {name!r} has no registered studies yet")
    per_study: dict[str, dict] = {m: {} for m in members}
    for key, value in (overrides or {}).items():
        study, _, field = key.partition(".")
        if study not in per_study or not field:
            raise BlocklabError(f"--set {key}: in group {name!r}, write <study>.<key>; studies: {', '.join(members)}")
        per_study[study][field] = value
    for member in members:  # a typo for the last study should not wait for the first to finish
        build_config(get_study(member), quick, per_study[member])
    for member in members:
        _run_one(get_study(member), seeds, quick, device, folder / member, per_study[member])
    return folder


def _run_one(study: Study, seeds: int, quick: bool, device: str, folder: Path, overrides: dict) -> None:
    cfg = build_config(study, quick, overrides)
    config = jsonable(dataclasses.asdict(cfg))
    cells = study.cells(cfg)
    _check_cells(study, cells)
    path = folder / res.RESULTS_FILE
    results = res.load(path) if path.exists() else _fresh(study, config, quick)
    _check_same_run(results, study, config, path)
    dev = str(resolve_device(device))
    seed_list = sorted(set(results["seeds"]) | set(range(seeds)))
    results.update(
        description=study.description, command=_command(study.name, len(seed_list), quick, device, folder, overrides),
        quick=quick, seeds=seed_list, versions=_versions(), device=dev, cells=[dataclasses.asdict(c) for c in cells], **_commit(),
    )
    done = {(r["cell"], r["seed"]) for r in results["runs"] if r["status"] in res.FINISHED}
    pending = [(c, s) for s in range(seeds) for c in cells if (c.name, s) not in done]
    log = logging.getLogger(f"blocklab.studies.{study.name}")
    with _logging_to(folder / "log.txt"), open(folder / "metrics.jsonl", "a", encoding="utf-8") as jsonl:
        res.save(results, path)
        with tqdm(total=len(pending), desc=study.name, unit="run", disable=not _bars_on(), dynamic_ncols=True) as bar:
            for cell, seed in pending:
                bar.set_postfix_str(f"{cell.name} seed {seed}")
                record = _run_pair(study, cfg, cell, seed, dev, quick, folder, jsonl, log)
                results["runs"] = [r for r in results["runs"] if (r["cell"], r["seed"]) != (cell.name, seed)]
                results["runs"].append(record)
                _finish_update(results, cells)
                res.save(results, path)
                jsonl.write(json.dumps(jsonable({"event": "pair", **record})) + "\n")
                jsonl.flush()
                bar.update(1)
    results["measurements"] = [m.to_dict() for m in _measure(study, results)]
    results["figures"] = draw_figures(study, results, folder)
    res.save(results, path)


def _run_pair(study: Study, cfg: Any, cell: Cell, seed: int, device: str, quick: bool, folder: Path, jsonl, log) -> dict:
    """Run one (cell, seed); an exception becomes a "failed" record, an interrupt propagates."""
    work = folder / "work" / cell.name / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    steps = tqdm(desc=f"{cell.name} seed {seed}", unit="step", leave=False, disable=not _bars_on(), dynamic_ncols=True)

    def progress(step: int, total: int, info: dict | None = None) -> None:
        if steps.total != total:  # first report; a resumed pair starts past 0, which must not count as speed
            steps.reset(total)
            steps.initial = steps.n = steps.last_print_n = step
        steps.update(step - steps.n)
        if info:
            jsonl.write(json.dumps(jsonable({"event": "step", "cell": cell.name, "seed": seed, "step": step, **info}))
                        + "\n")

    ctx = CellContext(study.name, cfg, cell, seed, device, work, quick, progress, log)
    seed_everything(seed)
    start = time.perf_counter()
    record = {"cell": cell.name, "seed": seed, "status": "done", "metrics": {}, "device": device, "message": ""}
    try:
        with cpu_threads(THREADS):
            metrics = study.run_cell(cell, seed, ctx)
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


def _check_same_run(results: dict, study: Study, config: dict, path: Path) -> None:
    if results["study"] != study.name:
        raise BlocklabError(f"{path} holds the study {results['study']!r}, not {study.name!r}; pass another --out")
    changed = sorted(k for k in config.keys() | results["config"].keys()
                     if config.get(k) != results["config"].get(k))
    if changed:
        diff = "; ".join(f"{k}: stored {results['config'].get(k)!r}, asked {config.get(k)!r}" for k in changed)
        raise BlocklabError(f"{path} was run with another config ({diff}); pass another --out to keep both, "
                            f"or delete {path.parent} to start over")


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


def _bars_on() -> bool:
    return sys.stderr.isatty() and os.environ.get("BLOCKLAB_NO_PROGRESS", "") in ("", "0")


class _TqdmHandler(logging.Handler):
    """Log lines printed above the progress bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """While a study runs, its log goes to the terminal and to the run folder's log.txt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("blocklab.studies")
    handlers = [_TqdmHandler(), logging.FileHandler(path, encoding="utf-8")]
    level = logger.level
    logger.setLevel(logging.INFO)
    for h in handlers:
        h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(h)
    try:
        yield
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
        logger.setLevel(level)
