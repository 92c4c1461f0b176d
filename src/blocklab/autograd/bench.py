"""Time a training step of the numpy engine against blocklab.nn's GPT in PyTorch, on the CPU.

Both engines run the same model with the same weights (converted), the same batch, the same
loss, AdamW and gradient clipping, in one process with the same number of threads (torch's
intra-op threads and the numpy BLAS's) and the same allocator setting (runtime.py). The two are timed alternately, step for step, so a
busy machine slows both alike; each figure is the median over `repeats`.

    forward: logits and cross-entropy loss, recording the graph as a training step does
    step:    zero_grad, forward, backward, clip to norm 1, AdamW update
"""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable

import numpy as np
import torch

from ..nn.config import GPTConfig
from .convert import to_torch
from .gpt import GPT
from .optim import AdamW, clip_grad_norm
from .runtime import keep_freed_memory, set_blas_threads

# The two configurations of seed 004 (parameter counts 4,624 and 33,472, as the seed reports).
# Batch sizes are the ones their demos train with.
BENCH_CONFIGS: dict[str, tuple[GPTConfig, int]] = {
    "level1": (GPTConfig(vocab_size=37, d_model=16, n_heads=2, n_layers=1, d_ff=64, max_len=8,
                         pos_encoding="learned", tie_weights=False, dropout=0.0), 16),
    "copilot": (GPTConfig(vocab_size=93, d_model=32, n_heads=2, n_layers=2, d_ff=128, max_len=64,
                          pos_encoding="learned", tie_weights=False, dropout=0.0), 32),
}


def _median_ms(times: list[float]) -> float:
    return round(1e3 * statistics.median(times), 3)


def _numpy_fns(model: GPT, x: np.ndarray, y: np.ndarray) -> tuple[Callable, Callable]:
    opt = AdamW(model.parameters(), lr=1e-3)

    def forward() -> None:
        model.loss(x, y)

    def step() -> None:
        opt.zero_grad()
        model.loss(x, y).backward()
        clip_grad_norm(opt.params, 1.0)
        opt.step()

    return forward, step


def _torch_fns(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[Callable, Callable]:
    tx, ty = torch.from_numpy(x), torch.from_numpy(y).reshape(-1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def loss() -> torch.Tensor:
        logits = model(tx)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ty)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return loss, step


def bench_engine(config_name: str, repeats: int = 50, threads: int = 1, warmup: int = 5, seed: int = 0) -> dict:
    """Median forward and step times (ms) of both engines on one seed-004 configuration."""
    if config_name not in BENCH_CONFIGS:
        raise ValueError(f"unknown config {config_name!r}; choose one of: {', '.join(BENCH_CONFIGS)}")
    cfg, batch = BENCH_CONFIGS[config_name]
    torch.set_num_threads(threads)
    blas_set = set_blas_threads(threads)
    malloc_kept = keep_freed_memory()
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, (batch, cfg.max_len))
    y = rng.integers(0, cfg.vocab_size, (batch, cfg.max_len))
    np_model = GPT(cfg, seed=seed)
    torch_model = to_torch(np_model).train()
    fns = {"numpy": _numpy_fns(np_model, x, y), "torch": _torch_fns(torch_model, x, y)}

    result: dict = {
        "config": config_name, "parameters": np_model.num_parameters(), "batch_size": batch,
        "context": cfg.max_len, "threads": threads, "blas_threads_set": blas_set, "malloc_keeps_freed": malloc_kept,
        "repeats": repeats,
        "numpy_version": np.__version__, "torch_version": torch.__version__, "cpu": platform.processor(),
    }
    for phase, which in (("forward", 0), ("step", 1)):
        times: dict[str, list[float]] = {"numpy": [], "torch": []}
        for _ in range(warmup):
            for engine in fns:
                fns[engine][which]()
        for _ in range(repeats):
            for engine in fns:  # alternate, so load on the machine hits both alike
                start = time.perf_counter()
                fns[engine][which]()
                times[engine].append(time.perf_counter() - start)
        for engine, ts in times.items():
            result[f"{engine}_{phase}_ms"] = _median_ms(ts)
        result[f"{phase}_ratio"] = round(result[f"numpy_{phase}_ms"] / result[f"torch_{phase}_ms"], 3)
    return result
