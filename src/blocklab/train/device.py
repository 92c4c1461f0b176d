"""Where a run executes and how it is made repeatable: device choice, seeds, RNG state, autocast."""
from __future__ import annotations

import base64
import contextlib
import random
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import BlocklabError


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(name: str) -> torch.device:
    """"auto" picks cuda, then mps, then cpu; naming a device that is not there is an error."""
    available = {"cuda": torch.cuda.is_available(), "mps": _mps_available(), "cpu": True}
    if name == "auto":
        return torch.device(next(d for d, ok in available.items() if ok))
    if name not in available:
        raise BlocklabError(f"unknown device {name!r}; choose one of: 'auto', 'cpu', 'cuda', 'mps'")
    if not available[name]:
        here = ", ".join(repr(d) for d, ok in available.items() if ok)
        raise BlocklabError(f"device {name!r} is not available on this machine; available: 'auto', {here}")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's (CPU and every CUDA device) generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic(enabled: bool) -> Iterator[None]:
    """Make torch pick deterministic kernels inside the block, and restore the caller's setting.

    Only asked for on CPU, where it costs nothing; on CUDA it would demand the
    CUBLAS_WORKSPACE_CONFIG environment variable, and GPU runs promise no bit-identity.
    """
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    if enabled:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


@contextlib.contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Run the block on n torch threads, then restore the caller's count.

    The lab's models are tiny: extra intra-op threads only wait on each other, and on a
    busy 2-core machine two threads measured 15-40x slower per step than one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when enabled. bf16 keeps fp32's exponent range, so no GradScaler."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def amp_note(amp: bool, device: torch.device) -> str | None:
    """Why amp=True will not take effect here, or None when it will (or was not asked for)."""
    if not amp:
        return None
    if device.type != "cuda":
        return f"amp=True ignored: mixed precision runs on CUDA only, this run is on {device.type}"
    if not torch.cuda.is_bf16_supported():
        return "amp=True ignored: this GPU has no bf16 support"
    return None


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)


def generator_state(g: torch.Generator) -> str:
    return _b64(g.get_state())


def set_generator_state(g: torch.Generator, state: str) -> None:
    g.set_state(_unb64(state))


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every global generator a training step may draw from (dropout, a loss_fn's sampling), as JSON."""
    py_state, np_state = random.getstate(), np.random.get_state()
    state = {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": _b64(torch.get_rng_state()),
    }
    if device.type == "cuda":
        state["cuda"] = _b64(torch.cuda.get_rng_state(device))
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(_unb64(state["torch"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(_unb64(state["cuda"]), device)
