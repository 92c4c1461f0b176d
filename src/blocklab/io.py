"""Atomic file writes, strict JSON, and the one reader of every file blocklab reads.

`read_bytes`, `read_text` and `read_json` turn every way a file can be unreadable (missing, a folder, not
UTF-8, not JSON, the wrong shape: see schema.py) into one BlocklabError line that names the
file and what is wrong; `what` says what the file is ("results file", "model config").

A reader (or a resumed run) must never see half a file: an interrupt or a full disk
while writing leaves either the old file or the new one. So every write goes to a
temporary file in the same folder, is flushed to disk, and then replaces the target
with `os.replace`, which is atomic on POSIX and Windows alike.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import BlocklabError
from .schema import Shape, ShapeError, check


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` so that `path` holds either its old or its new contents, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates files readable by the owner only; keep an existing file's mode,
    # else use the usual 0o644 so that a report can be served as-is.
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """`atomic_write_bytes` for text."""
    return atomic_write_bytes(path, text.encode(encoding))


def jsonable(value: Any) -> Any:
    """`value` made strict-JSON-ready: tuples, arrays and tensors to lists, numpy and tensor scalars
    to numbers, non-finite floats to None (JSON has no NaN; a diverged loss is told by a flag)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if getattr(value, "ndim", None) is not None and callable(getattr(value, "tolist", None)):
        value = value.tolist()  # numpy arrays and scalars, torch tensors: Python numbers or lists
        if isinstance(value, list):
            return jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fsync_dir(folder: Path) -> None:
    # The rename itself lives in the folder's entry table; syncing the folder makes it
    # survive a power cut. Not every platform can open a folder, and that is fine.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_bytes(path: str | os.PathLike, what: str) -> bytes:
    """The contents of the file at `path`; a missing or unreadable one is a BlocklabError naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BlocklabError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise BlocklabError(f"{what} {path} is a folder, not a file") from None
    except OSError as e:
        raise BlocklabError(f"{what} {path} cannot be read: {e.strerror or e}") from None


def read_text(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of the file at `path`; a missing, unreadable or non-UTF-8 file is a BlocklabError naming it."""
    try:
        return read_bytes(path, what).decode("utf-8")
    except UnicodeDecodeError as e:
        raise BlocklabError(f"{what} {path} is not UTF-8 text (byte {e.start} cannot be decoded)") from None


def read_json(path: str | os.PathLike, what: str, shape: Shape = None, fix: str = "") -> Any:
    """The JSON value in the file at `path`, checked against `shape` (schema.py) when one is given.

    Every way the file can be wrong is one BlocklabError line: "{what} {path} is corrupt: not
    JSON (...)", "{what} {path}: runs[0].metrics is 5; it must be an object". `fix`, when
    given, is appended: what the user can do about a corrupt file.
    """
    path = Path(path)
    data = read_bytes(path, what)
    tail = f"; {fix}" if fix else ""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BlocklabError(f"{what} {path} is corrupt: not UTF-8 text (byte {e.start}), so not JSON{tail}") from None
    except json.JSONDecodeError as e:
        raise BlocklabError(f"{what} {path} is corrupt: not JSON ({e}){tail}") from None
    except RecursionError:
        raise BlocklabError(f"{what} {path} is corrupt: its JSON is nested too deeply{tail}") from None
    except ValueError as e:  # an integer of more than 4,300 digits
        raise BlocklabError(f"{what} {path} is corrupt: {e}{tail}") from None
    if shape is not None:
        try:
            check(value, shape)
        except ShapeError as e:
            raise BlocklabError(f"{what} {path}: {e}{tail}") from None
    return value
