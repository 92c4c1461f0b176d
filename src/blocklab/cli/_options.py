"""Option types more than one verb uses, so that every verb refuses a bad value the same way, before any work.

Each type fails in click's one line (`error: Invalid value for '--seed': ... (see blocklab generate
--help)`, exit code 2) while the command line is parsed, so nothing has run or been written yet:

    SEED              an integer in [0, 2**63): what numpy's and torch's generators take
    finite(...)       a float range that also refuses nan and inf (click's FloatRange lets nan through)
    InPath            a path to read; a name the OS cannot even look up is refused, not a traceback
    OutPath           a path to write (a folder, or a file): refused if a file stands where a folder is
                      needed (afile/sub), a folder where a file is, or a parent folder is not writable
    SEEDS, WORKERS    --seeds, --jobs and --threads, with upper bounds; MAX_NEW_TOKENS caps a continuation
    Listed(item)      a comma-separated list of values of one click type (`3,5,10`, `quick,full`), none repeated

`read_config_file` reads `--config F` (a JSON object of config fields) through blocklab.io.read_json.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from ..config.check import short_repr
from ..io import read_json

SEED = click.IntRange(0, 2**63 - 1)
MAX_SEEDS = 10_000  # seeds per cell of one run: beyond this the pair list alone would not fit in memory
MAX_WORKERS = 1024  # --jobs, --threads: a process pool's queue is sized by it
MAX_NEW_TOKENS = 100_000  # a sampled continuation; a bigger one is a typo, not a request
SEEDS = click.IntRange(1, MAX_SEEDS)
WORKERS = click.IntRange(1, MAX_WORKERS)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that refuses nan and inf (a comparison with nan is False, so the range alone passes it)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


class Listed(click.ParamType):
    """A comma-separated list whose every item `item` converts; empty or repeated items are refused."""

    name = "list"

    def __init__(self, item: click.ParamType) -> None:
        self.item = item

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",")]
        if "" in parts or len(set(parts)) != len(parts):
            self.fail(f"{value!r} must be comma-separated values, none empty or repeated", param, ctx)
        return tuple(self.item.convert(p, param, ctx) for p in parts)


def finite(min: float | None = None, max: float | None = None, min_open: bool = False,
           max_open: bool = False) -> FiniteFloatRange:
    return FiniteFloatRange(min, max, min_open=min_open, max_open=max_open)


class InPath(click.Path):
    """click.Path for something to read. click ignores a path the OS refuses to look up (a name over
    its length limit); the verb would then fail on it with a traceback, so it is refused here."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        problem = _lookup_problem(Path(value))
        if problem:
            self.fail(f"{short_repr(click.format_filename(value))}: {problem}", param, ctx)
        return super().convert(value, param, ctx)


class OutPath(click.Path):
    """A path to write: a folder to fill (created if need be) or a file; refused at once if it could not be."""

    def __init__(self, folder: bool) -> None:
        super().__init__(file_okay=not folder, dir_okay=folder)
        self.folder = folder

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        problem = output_problem(Path(value), self.folder)
        if problem:
            self.fail(problem, param, ctx)
        return super().convert(value, param, ctx)


def output_problem(path: Path, folder: bool) -> str | None:
    """Why nothing could be written at `path` (a folder to fill, or else a file), or None when it can be."""
    problem = _lookup_problem(path)
    if problem:
        return f"{short_repr(str(path))}: {problem}"
    if path.exists():
        if folder != path.is_dir():
            return f"{path} is a {'file' if folder else 'folder'}; a {'folder' if folder else 'file'} is needed here"
        writable = path if folder else path.parent
        return None if os.access(writable, os.W_OK | os.X_OK) else f"{writable} is not writable"
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                return f"{ancestor} is a file, so {path} cannot be created below it"
            if not os.access(ancestor, os.W_OK | os.X_OK):
                return f"{path} cannot be created: {ancestor} is not writable"
            return None
    return None


def _lookup_problem(path: Path) -> str | None:
    """Why the OS cannot even look `path` up (a name too long), or None."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        return e.strerror or str(e)
    return None


def read_config_file(path: str) -> dict:
    """The JSON object of config fields in the file at `path`; a BlocklabError naming the file otherwise."""
    return read_json(path, "config file", dict)
