"""Process settings that decide how fast numpy runs small-model training on a CPU.

- BLAS threads: numpy's OpenBLAS has no Python switch; we call its own setter.
- Freed memory: glibc hands large freed blocks (over ~128 KiB, one activation of the Copilot
  model is 1 MiB) back to the operating system, so the next temporary of that size page-faults
  on every 4 KiB page it touches, which costs more than the arithmetic. `keep_freed_memory`
  tells malloc to keep such blocks for reuse. It is process-wide and helps torch as well.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3


def set_blas_threads(n: int) -> bool:
    """Set the thread count of the OpenBLAS that numpy loaded; False if it cannot be found."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return False
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                       "openblas_set_num_threads"):
            if hasattr(lib, symbol):
                getattr(lib, symbol)(ctypes.c_int(n))
                return True
    return False


def keep_freed_memory(limit_mb: int = 256) -> bool:
    """Let glibc keep up to limit_mb of freed memory instead of returning it; False off glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return False
    size = limit_mb << 20
    return bool(libc.mallopt(M_MMAP_THRESHOLD, size)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * size))
