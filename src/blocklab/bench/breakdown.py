"""Where a training step's time goes, by kernel family, and the floor it sets on a speed-up.

The profiler's self time of every aten operator in a few steps is summed into families:
matrix products (mm, addmm, bmm, baddbmm), the fused attention kernels (forward and
backward), the optimizer (AdamW and the gradient clip's norms) and everything else
(elementwise work, LayerNorm, GELU, copies, embedding, cross-entropy).

Why it matters: contenders that compute the same network in float32 run the same matrix
products. If blocklab removed every other kernel and kept its matrix products and
attention, its step would still take `floor` = (its matmul + attention time) / (the fastest
peer's whole step). A floor above a speed goal proves that goal needs different arithmetic
(lower precision, a GPU) rather than better bookkeeping. Profiler times carry its own
overhead, so the shares are compared within one profile, not with the timed medians.
"""
from __future__ import annotations

from typing import Callable

from .timing import quiet_stderr

FAMILIES = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"),
    "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu",
                  "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
                  "aten::_scaled_dot_product_flash_attention", "aten::_scaled_dot_product_flash_attention_backward",
                  "aten::_scaled_dot_product_efficient_attention",
                  "aten::_scaled_dot_product_efficient_attention_backward"),
    "optimizer": ("aten::_fused_adamw_", "aten::_foreach_norm", "aten::_foreach_mul_", "aten::linalg_vector_norm",
                  "Optimizer.step#AdamW.step", "Optimizer.zero_grad#AdamW.zero_grad"),
}


def family(op: str) -> str:
    return next((name for name, ops in FAMILIES.items() if op in ops), "other")


def kernel_times(step: Callable[[], object], steps: int) -> dict[str, float]:
    """Profiler self time per family, in ms per step (CPU time of the operators)."""
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    out = {name: 0.0 for name in (*FAMILIES, "other")}
    for event in prof.key_averages():
        out[family(event.key)] += event.self_cpu_time_total / 1e3 / steps  # microseconds -> ms
    out["total"] = sum(out.values())
    return {k: round(v, 3) for k, v in out.items()}


def breakdown(steps: dict[str, Callable[[], object]], n_steps: int, peers: tuple[str, ...]) -> dict:
    """kernel_times for every contender, and blocklab's floor against the fastest peer."""
    times = {name: kernel_times(fn, n_steps) for name, fn in steps.items()}
    out: dict = {"steps": n_steps, "contenders": times}
    present = [p for p in peers if p in times]
    if "blocklab" in times and present:
        fastest = min(present, key=lambda p: times[p]["total"])
        ours = times["blocklab"]
        out["floor"] = {"fastest_peer": fastest,
                        "ratio": round((ours["matmul"] + ours["attention"]) / times[fastest]["total"], 3)}
    return out


def breakdown_lines(size_name: str, b: dict) -> list[str]:
    lines = []
    for name, t in b["contenders"].items():
        shares = ", ".join(f"{k} {100 * t[k] / t['total']:.0f}%" for k in (*FAMILIES, "other"))
        lines.append(f"{size_name}: {name}: profiled {t['total']:.1f} ms/step: {shares}")
    if "floor" in b:
        f = b["floor"]
        lines.append(f"{size_name}: blocklab's matmul + attention kernels alone take {f['ratio']:.2f}x the whole "
                     f"profiled step of the fastest peer ({f['fastest_peer']}): the floor of any float32 speed-up "
                     "that keeps these kernels")
    return lines

