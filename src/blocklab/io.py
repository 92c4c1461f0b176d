"""Atomic file writes and strict JSON, shared by the trainer, the study runner and the report.

A reader (or a resumed run) must never see half a file: an interrupt or a full disk
while writing leaves either the old file or the new one. So every write goes to a
temporary file in the same folder, is flushed to disk, and then replaces the target
with `os.replace`, which is atomic on POSIX and Windows alike.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any


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
