"""`blocklab bench attention`: explicit vs fused attention, time and peak memory against length.

One causal self-attention call with its backward (a random upstream gradient), batch 1,
4 heads of width 64, at sequence lengths up to 4096. The explicit path materialises the
(T, T) score and weight matrices of every head, so its memory grows as T^2 (study 47's
claim, measured here at training time); the fused kernel works in blocks and keeps O(T).
"""
from __future__ import annotations

import torch

from ..nn.attention import scaled_dot_product_attention
from .timing import device_sync, peak_memory, stats_dict, table, time_alternately

LENGTHS = (256, 512, 1024, 2048, 4096)
QUICK_LENGTHS = (256, 1024, 4096)
HEADS, HEAD_DIM = 4, 64
PATHS = {"explicit": False, "fused": True}


def attention_call(T: int, fused: bool, device: torch.device, dtype: torch.dtype, seed: int = 0):
    """A function running one forward and backward of causal attention at length T."""
    g = torch.Generator(device=device).manual_seed(seed)
    q, k, v = (torch.randn(1, HEADS, T, HEAD_DIM, device=device, dtype=dtype, generator=g).requires_grad_()
               for _ in range(3))
    upstream = torch.randn(1, HEADS, T, HEAD_DIM, device=device, dtype=dtype, generator=g)

    def call() -> None:
        out, _ = scaled_dot_product_attention(q, k, v, is_causal=True, fused=fused)  # (1, H, T, Dh)
        torch.autograd.backward(out, upstream)
        q.grad = k.grad = v.grad = None

    return call


def bench_attention(lengths: tuple[int, ...], *, repeats: int, warmup: int, device: torch.device) -> dict:
    """Per length and path: median time of forward + backward, and peak memory of one call."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    rows = []
    for T in lengths:
        calls = {path: attention_call(T, fused, device, dtype) for path, fused in PATHS.items()}
        stats = time_alternately(calls, repeats=repeats, warmup=warmup, sync=device_sync(device))
        row = {"T": T}
        for path, call in calls.items():
            row[path] = {**stats_dict(stats[path]), "peak_bytes": peak_memory(call, device)}
        rows.append(row)
    return {"heads": HEADS, "head_dim": HEAD_DIM, "batch": 1, "dtype": str(dtype).removeprefix("torch."),
            "pass": "forward + backward", "rows": rows}


def attention_table(result: dict) -> str:
    rows = []
    for r in result["rows"]:
        e, f = r["explicit"], r["fused"]
        rows.append([r["T"], f"{e['ms']:.2f}", f"{f['ms']:.2f}", f"{e['ms'] / f['ms']:.2f}x", _mib(e["peak_bytes"]),
                     _mib(f["peak_bytes"]), f"{e['peak_bytes'] / max(f['peak_bytes'], 1):.1f}x"])
    head = ["T", "explicit ms", "fused ms", "time ratio", "explicit MiB", "fused MiB", "memory ratio"]
    first, last = result["rows"][0], result["rows"][-1]
    growth = last["T"] / first["T"]

    def grew(path: str) -> str:
        return f"{last[path]['peak_bytes'] / max(first[path]['peak_bytes'], 1):.0f}x"

    note = (f"T grew {growth:.0f}x: explicit peak memory {grew('explicit')} (T^2: {growth ** 2:.0f}x), "
            f"fused {grew('fused')}")
    return table(head, rows) + "\n" + note


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"
