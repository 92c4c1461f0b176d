"""Time a training step of the numpy engine against blocklab.nn's GPT in PyTorch, on the CPU.

Every contender runs the same model with the same weights (converted), the same batch, the
same loss, AdamW and gradient clipping, in one process with the same number of threads
(torch's intra-op threads and the numpy BLAS's) and the same allocator setting (runtime.py):

    numpy        blocklab.autograd.GPT
    torch        blocklab.nn.GPT on its written-out LayerNorm (the default), the model the
                 engine is measured against: the same formula in the same elementwise ops
    torch_fused  the same blocklab.nn.GPT on F.layer_norm (LayerNorm.fused): a faster PyTorch
                 baseline, since the written-out LayerNorm dominates its CPU forward at these sizes

The contenders are timed alternately, call for call (blocklab.bench.timing), so a busy
machine slows all alike; each figure is the median over `repeats`, with the quartiles as its spread.

    forward: logits and cross-entropy loss, recording the graph as a training step does
    step:    zero_grad, forward, backward, clip to norm 1, AdamW update
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from ..bench.timing import cpu_name, time_alternately
from ..nn.config import GPTConfig
from ..nn.norms import LayerNorm
from ..runtime import keep_freed_memory, set_blas_threads
from .convert import to_torch
from .gpt import GPT
from .optim import AdamW, clip_grad_norm

# The two configurations of seed 004 (parameter counts 4,624 and 33,472, as the seed reports).
# Batch sizes are the ones their demos train with.
BENCH_CONFIGS: dict[str, tuple[GPTConfig, int]] = {
    "level1": (GPTConfig(vocab_size=37, d_model=16, n_heads=2, n_layers=1, d_ff=64, max_len=8,
                         pos_encoding="learned", tie_weights=False, dropout=0.0), 16),
    "copilot": (GPTConfig(vocab_size=93, d_model=32, n_heads=2, n_layers=2, d_ff=128, max_len=64,
                          pos_encoding="learned", tie_weights=False, dropout=0.0), 32),
}

Fns = tuple[Callable[[], None], Callable[[], None]]  # forward, step


def _numpy_fns(model: GPT, x: np.ndarray, y: np.ndarray) -> Fns:
    opt = AdamW(model.parameters(), lr=1e-3)

    def forward() -> None:
        model.loss(x, y)

    def step() -> None:
        opt.zero_grad()
        model.loss(x, y).backward()
        clip_grad_norm(opt.params, 1.0)
        opt.step()

    return forward, step


def _torch_fns(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> Fns:
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


def with_layernorm(model: torch.nn.Module, fused: bool) -> torch.nn.Module:
    """A copy of a blocklab.nn model whose LayerNorms run fused (F.layer_norm) or written out."""
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, LayerNorm):
            module.fused = fused
    return model


def bench_engine(config_name: str, repeats: int = 50, threads: int = 1, warmup: int = 5, seed: int = 0,
                 keep_memory: bool = True) -> dict:
    """Median forward and step times (ms) of every contender on one seed-004 configuration,
    and the numpy engine's time as a multiple of each PyTorch one (below 1: numpy is faster).
    keep_memory=False leaves glibc's defaults alone, to show what runtime.keep_freed_memory buys."""
    if config_name not in BENCH_CONFIGS:
        raise ValueError(f"unknown config {config_name!r}; choose one of: {', '.join(BENCH_CONFIGS)}")
    cfg, batch = BENCH_CONFIGS[config_name]
    torch.set_num_threads(threads)
    blas_set, malloc_kept = set_blas_threads(threads), keep_memory and keep_freed_memory()
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, (batch, cfg.max_len))
    y = rng.integers(0, cfg.vocab_size, (batch, cfg.max_len))
    np_model = GPT(cfg, seed=seed)
    torch_model = to_torch(np_model).train()
    fns = {
        "numpy": _numpy_fns(np_model, x, y),
        "torch": _torch_fns(with_layernorm(torch_model, fused=False), x, y),
        "torch_fused": _torch_fns(with_layernorm(torch_model, fused=True), x, y),
    }
    result: dict = {
        "config": config_name, "parameters": np_model.num_parameters(), "batch_size": batch,
        "context": cfg.max_len, "threads": threads, "blas_threads_set": blas_set, "malloc_keeps_freed": malloc_kept,
        "repeats": repeats, "numpy_version": np.__version__, "torch_version": torch.__version__, "cpu": cpu_name(),
    }
    for phase, which in (("forward", 0), ("step", 1)):
        stats = time_alternately({engine: f[which] for engine, f in fns.items()}, repeats=repeats, warmup=warmup)
        for engine, s in stats.items():
            ms = s.ms()
            result[f"{engine}_{phase}_ms"] = ms["ms"]
            result[f"{engine}_{phase}_q1_ms"], result[f"{engine}_{phase}_q3_ms"] = ms["q1_ms"], ms["q3_ms"]
        for baseline in ("torch", "torch_fused"):
            result[f"{phase}_ratio_vs_{baseline}"] = round(
                result[f"numpy_{phase}_ms"] / result[f"{baseline}_{phase}_ms"], 3)
    return result


CONTENDERS = ("numpy", "torch", "torch_fused")


def bench_table(results: list[dict]) -> str:
    """bench_engine results as a text table: median [quartiles] in ms per contender, and the ratios."""
    head = f"{'config':<8} {'params':>7} {'phase':<8}" + "".join(f"{c + ' ms':>24}" for c in CONTENDERS)
    lines = [head + f"{'numpy/torch':>13}{'numpy/fused':>13}"]
    for r in results:
        for phase in ("forward", "step"):
            cells = "".join((f"{r[f'{c}_{phase}_ms']:>9.3f} "
                             f"[{r[f'{c}_{phase}_q1_ms']:.3f}-{r[f'{c}_{phase}_q3_ms']:.3f}]").rjust(24)
                            for c in CONTENDERS)
            lines.append(f"{r['config']:<8} {r['parameters']:>7,} {phase:<8}" + cells
                         + f"{r[f'{phase}_ratio_vs_torch']:>12.2f}x{r[f'{phase}_ratio_vs_torch_fused']:>12.2f}x")
    return "\n".join(lines)
