"""results.json: the one file a study run leaves, and everything the report reads.

Schema (version 1), one JSON object:

    schema        1
    study         registered study name;  description: its one-line description
    command       the `blocklab run ...` line that reproduces this file
    config        the study's config dataclass as a dict;  quick: whether --quick chose it
    seeds         list of seeds requested so far (0..N-1)
    versions      {"python", "torch", "numpy", "blocklab"}
    commit        git commit of the code ("unknown" outside a git checkout);  dirty: uncommitted changes
    device        the device of the latest run
    cells         [{"name", "params"}], in the study's order
    runs          [{"cell", "seed", "status", "metrics", "seconds", "device", "message"}]
                  status: "done", "diverged" (the study's metrics say diverged=true) or
                  "failed" (an exception; message holds it). Unfinished pairs are absent.
    aggregates    {cell: {metric: {"mean", "ci_low", "ci_high", "n"}}} over the seeds that
                  finished (done or diverged), for every numeric metric (booleans count 0/1);
                  the interval is stats.mean_ci's on the metric's scale (metric_scales)
    measurements  [Measurement.to_dict()] (see report/verdicts.py)
    scales        optional: {pattern: {"unit", "low", "high"}}, the ranges the study declares
                  for its metrics (see report/scales.py); undeclared metrics are inferred
    figures       file names under figures/
    timing        {"started", "updated" (ISO 8601, UTC), "seconds" (sum over runs)}
    complete      true when every (cell, seed) is done or diverged

Non-finite floats (a diverged loss) are stored as null, so the file is strict JSON.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config.check import short_repr
from ..errors import BlocklabError
from ..io import atomic_write_text, jsonable, read_json
from ..schema import AtLeast, ListOf, MapOf, Nullable, Obj, OneOf, ShapeError, check
from .scales import Scale, scale_for
from .stats import intervals
from .verdicts import PART_VERDICTS

SCHEMA = 1
RESULTS_FILE = "results.json"
FINISHED = ("done", "diverged")
STATUSES = ("done", "diverged", "failed")
_NUMBER = Nullable(float)  # a non-finite number is stored as null
RUN = Obj({"cell": str, "seed": AtLeast(0), "status": OneOf(*STATUSES), "metrics": dict},
          optional={"seconds": float, "device": str, "message": str, "traceback": str})
MEASUREMENT = Obj(  # Measurement.to_dict(); results from before p-values lack the optional fields
    {"claim_id": str, "part": str, "seed_value": str, "values": ListOf(_NUMBER), "unit": str, "mean": _NUMBER,
     "ci_low": _NUMBER, "ci_high": _NUMBER, "n": AtLeast(0), "rule": str, "verdict": OneOf(*PART_VERDICTS),
     "note": str, "command": str},
    optional={"method": str, "scale": dict, "region": Nullable(ListOf(_NUMBER)), "p_value": _NUMBER,
              "detectable": _NUMBER, "seeds_needed": Nullable(AtLeast(0)), "min_seeds": AtLeast(1)})
RESULTS = Obj(
    {"schema": int, "study": str, "description": str, "command": str, "config": dict, "quick": bool,
     "seeds": ListOf(AtLeast(0)), "versions": dict, "commit": str, "device": str,
     "cells": ListOf(Obj({"name": str, "params": dict})), "runs": ListOf(RUN),
     "aggregates": MapOf(MapOf(Obj({"mean": _NUMBER, "ci_low": _NUMBER, "ci_high": _NUMBER, "n": AtLeast(0)}))),
     "measurements": ListOf(MEASUREMENT), "figures": ListOf(str),
     "timing": Obj({}, optional={"started": str, "updated": str, "seconds": float, "wall": float}),
     "complete": bool},
    optional={"dirty": bool, "error": str,
              "scales": MapOf(Obj({}, optional={"unit": str, "low": _NUMBER, "high": _NUMBER}))})


# An indented list of numbers (a loss curve) as one line, so the file stays readable. Only
# lists that span lines match, and a JSON string cannot hold a raw newline, so no string changes.
_NUMBER_LIST = re.compile(r"\[\n[\s0-9.eE+\-,nul]*\]")


def dumps(results: dict) -> str:
    text = json.dumps(jsonable(results), indent=1, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(t.strip() for t in m.group(0)[1:-1].split(",")) + "]",
                            text) + "\n"


def save(results: dict, path: str | Path) -> None:
    """Validate and write atomically: an interrupt leaves the previous complete file."""
    validate(results, path)
    atomic_write_text(path, dumps(results))


def load(path: str | Path) -> dict:
    """Read and validate; a missing, truncated or foreign file raises BlocklabError naming it and the
    JSON path that is wrong (runs[3].metrics)."""
    results = read_json(path, "results file", fix=_FIX)
    validate(results, path)
    return results


_FIX = "move it aside to start this run over, or pass another --out"


def validate(results: Any, path: str | Path) -> None:
    """The schema version (another version has other fields), then the whole schema (RESULTS)."""
    version = results.get("schema", SCHEMA) if isinstance(results, dict) else SCHEMA
    if version != SCHEMA:
        raise BlocklabError(f"{path} is not a blocklab results file: schema {short_repr(version)} is not the "
                            f"supported {SCHEMA}")
    try:
        check(results, RESULTS)
    except ShapeError as e:
        raise BlocklabError(f"{path} is not a blocklab results file: {e}") from None


def find_results(root: str | Path) -> list[Path]:
    """Every results.json at or below `root`, in path order."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(root.rglob(RESULTS_FILE))


def config_value(results: dict, key: str, flat: str | None = None) -> Any:
    """The recorded config's value of dotted `key` ("train.steps"). Folders written before the
    studies nested the trainer's settings hold them flat: there `flat` is read (default: the
    last part of `key`, "steps")."""
    value: Any = results["config"]
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return results["config"][flat or key.rpartition(".")[2]]
        value = value[part]
    return value


def finished_runs(results: dict, cell: str) -> list[dict]:
    """The done or diverged runs of one cell, in seed order."""
    runs = [r for r in results["runs"] if r["cell"] == cell and r["status"] in FINISHED]
    return sorted(runs, key=lambda r: r["seed"])


def per_seed(results: dict, cell: str, metric: str = "", numeric: bool = False) -> dict[int, Any]:
    """{seed: value of `metric`} over the finished runs of `cell`, in seed order: the one reader
    of a metric seed by seed, so that two cells pair up by seed.

    `metric` is a dotted path into nested dicts ("final.val_acc" reads a TrainResult's final
    evaluation), a key that itself holds a dot, or "" for the whole metrics dict. A run without
    it gives None; with `numeric`, values are floats and None becomes NaN (a null in
    results.json is a non-finite number, such as a diverged loss).
    """
    out = {}
    for run in finished_runs(results, cell):
        value = _lookup(run["metrics"], metric) if metric else run["metrics"]
        out[run["seed"]] = (math.nan if value is None else float(value)) if numeric else value
    return out


def seed_matrix(results: dict, cell: str, metrics: list[str]) -> np.ndarray:
    """(finished seeds, metrics): seed_values of several metrics of one cell at once."""
    rows = [[_lookup(run["metrics"], m) for m in metrics] for run in finished_runs(results, cell)]
    return np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=float).reshape(len(rows),
                                                                                                          len(metrics))


def seed_values(results: dict, cell: str, metric: str) -> list[float]:
    """per_seed's floats as a list in seed order: what a study's `measure` passes to a Measurement."""
    return list(per_seed(results, cell, metric, numeric=True).values())


def diverged_note(results: dict, cell: str) -> str:
    """" (k of n seeds diverged)" for a label or a table row where some seeds of `cell` diverged, whose nulls are
    left out of the means shown beside it; "" where none did."""
    runs = finished_runs(results, cell)
    k = sum(r["status"] == "diverged" for r in runs)
    return f" ({k} of {len(runs)} seeds diverged)" if k else ""


def as_floats(values) -> np.ndarray:
    """Nested lists of metric values as a float array: None (a non-finite number in results.json) becomes NaN."""
    return np.asarray(values, dtype=float)  # numpy reads None as NaN when the dtype is float


def finite(values: Sequence[float | None]) -> list[float]:
    """The finite values of a flat list (a diverged seed's null or NaN left out)."""
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def aggregate(results: dict) -> dict:
    """Mean and 95% interval per cell per numeric metric (nested ones under dotted names), over finished seeds."""
    scales = metric_scales(results)
    out: dict[str, dict] = {}
    for cell, keys in _cell_metrics(results).items():
        cis = intervals(seed_matrix(results, cell, keys), [scales[k] for k in keys])
        out[cell] = {k: ci.to_dict() for k, ci in zip(keys, cis)}
    return out


def metric_scales(results: dict) -> dict[str, Scale]:
    """The scale of every numeric metric: declared in results["scales"] or inferred (scales.py),
    over all cells' values."""
    values: dict[str, list[float]] = {}
    for cell, keys in _cell_metrics(results).items():
        for k, column in zip(keys, seed_matrix(results, cell, keys).T):
            values.setdefault(k, []).extend(column.tolist())
    return {k: scale_for(k, v, results.get("scales")) for k, v in sorted(values.items())}


def _cell_metrics(results: dict) -> dict[str, list[str]]:
    """Each cell's numeric metrics over its finished seeds, sorted."""
    return {cell["name"]: sorted({k for r in finished_runs(results, cell["name"])
                                  for k in _numeric_paths(r["metrics"])})
            for cell in results["cells"]}


def _numeric_paths(metrics: dict, prefix: str = "") -> list[str]:
    """Dotted paths to the numbers in nested dicts; lists (curves, histories) are not aggregated."""
    paths = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            paths += _numeric_paths(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)):  # bool is an int: a diverged flag averages to a rate
            paths.append(prefix + key)
    return paths


def _lookup(metrics: dict, path: str) -> Any:
    if path in metrics:  # a key that itself holds a dot ("acc_at_0.5")
        return metrics[path]
    value: Any = metrics
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
