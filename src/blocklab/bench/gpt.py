"""`blocklab bench gpt`: one GPT training step, blocklab against its peers, in one process.

The step, for every contender alike: zero the gradients, logits, cross-entropy, backward,
clip the gradient norm to 1, AdamW (lr 6e-4, betas 0.9/0.95, weight decay 0.1 on every
parameter, torch's fused implementation: one kernel per parameter, on CPU and CUDA).
On CUDA the forward runs under bf16 autocast (weights and optimizer stay float32).

Beside the timing, the fused and the explicit blocklab paths train from the same weights on
the same batches, and their loss curves are compared step by step: fusion must not change
the math. On CUDA it also times the paper-base encoder-decoder's step and reports its model
FLOPs utilization (flops.py).
"""
from __future__ import annotations

import contextlib
import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.attention import set_fused
from ..nn.models.gpt import GPT
from ..nn.presets import build_model, preset
from . import flops
from .breakdown import breakdown
from .peers import CONTENDERS, PEERS, GPTSize, PeerMissing, n_parameters
from .timing import Stats, device_sync, stats_dict, table, time_alternately

OPTIMIZER = {"lr": 6e-4, "betas": (0.9, 0.95), "weight_decay": 0.1}
OPTIMIZER_NOTE = "AdamW(lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True), grad-norm clip 1.0"


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; on the CPU every contender runs float32."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def markov_tokens(vocab: int, n: int, seed: int) -> torch.Tensor:
    """n tokens of a random Markov chain in which each token has 3 likely successors, so a
    model's loss falls from log(vocab) towards the chain's entropy (a loss curve worth comparing)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(vocab, vocab, generator=g)
    logits.scatter_add_(1, torch.randint(0, vocab, (vocab, 3), generator=g), torch.full((vocab, 3), 4.0))
    probs = logits.softmax(-1)
    out = torch.empty(n, dtype=torch.long)
    out[0] = 0
    for i in range(1, n):
        out[i] = torch.multinomial(probs[out[i - 1]], 1, generator=g)
    return out


def batches(size: GPTSize, n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n (input, target) batches of (batch, context) tokens cut at random offsets from one chain."""
    tokens = markov_tokens(size.vocab, 20 * size.tokens + size.context + 1, seed)
    g = torch.Generator().manual_seed(seed + 1)
    out = []
    for _ in range(n):
        starts = torch.randint(0, len(tokens) - size.context - 1, (size.batch,), generator=g)
        rows = torch.stack([tokens[s: s + size.context + 1] for s in starts.tolist()])  # (B, T + 1)
        out.append((rows[:, :-1], rows[:, 1:]))
    return out


def train_step(model: nn.Module, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The benchmark's step for one model: (x, y) -> loss (detached), updating the model."""
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, **OPTIMIZER, fused=True)

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with autocast(device):
            logits = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.detach()

    return step


def build(name: str, size: GPTSize, device: torch.device, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return CONTENDERS[name](size).to(device).train()


def bench_step(size: GPTSize, *, repeats: int, warmup: int, device: torch.device, compile: bool = False,
               contenders: tuple[str, ...] = tuple(CONTENDERS), seed: int = 0, profile_steps: int = 0) -> dict:
    """Median step time of every contender (and, with compile, of each under torch.compile),
    tokens per second, parameter counts, and blocklab's time over the fastest peer's. With
    profile_steps on the CPU, the eager contenders' kernel-family breakdown (breakdown.py)."""
    x, y = (t.to(device) for t in batches(size, 1, seed)[0])
    steps, rows, skipped = {}, {}, {}
    for name in contenders:
        try:
            model = build(name, size, device, seed)
        except PeerMissing as e:
            skipped[name] = str(e)
            continue
        variants = {name: model}
        if compile:
            variants[f"{name}+compile"] = torch.compile(copy.deepcopy(model))
        for label, m in variants.items():
            step = train_step(m, device)
            steps[label] = lambda step=step: step(x, y)
            rows[label] = {"parameters": n_parameters(model)}
    stats = time_alternately(steps, repeats=repeats, warmup=warmup, sync=device_sync(device))
    for label, s in stats.items():
        rows[label].update(stats_dict(s), tokens_per_s=round(size.tokens / s.median))
    out = {"size": size.__dict__, "tokens_per_step": size.tokens, "optimizer": OPTIMIZER_NOTE,
           "contenders": rows, "skipped": skipped, "ratios": ratios(stats)}
    if profile_steps and device.type == "cpu":  # on CUDA the CPU-side profile would time kernel launches
        eager = {k: f for k, f in steps.items() if not k.endswith("+compile")}
        out["breakdown"] = breakdown(eager, profile_steps, PEERS)
    return out


def ratios(stats: dict[str, Stats]) -> dict:
    """blocklab's median over the fastest peer's, eager against eager and compiled against compiled."""
    out = {}
    for suffix in ("", "+compile"):
        peers = {p + suffix: stats[p + suffix].median for p in PEERS if p + suffix in stats}
        if f"blocklab{suffix}" in stats and peers:
            fastest = min(peers, key=peers.get)
            ours = stats[f"blocklab{suffix}"]
            out[f"blocklab{suffix}"] = {"fastest_peer": fastest, "ratio": round(ours.median / peers[fastest], 3)}
            if ours.cpu is not None and stats[fastest].cpu:
                out[f"blocklab{suffix}"]["cpu_ratio"] = round(ours.cpu / stats[fastest].cpu, 3)
    return out


def loss_curves(size: GPTSize, steps: int, device: torch.device, seed: int = 0) -> dict:
    """Train the fused and the explicit blocklab GPT from the same weights on the same batches."""
    torch.manual_seed(seed)
    fused = set_fused(GPT(size.gpt_config()), True).to(device).train()
    explicit = set_fused(copy.deepcopy(fused), False)
    curves: dict[str, list[float]] = {"fused": [], "explicit": []}
    train = {"fused": train_step(fused, device), "explicit": train_step(explicit, device)}
    for x, y in batches(size, steps, seed + 100):
        x, y = x.to(device), y.to(device)
        for path, step in train.items():
            curves[path].append(step(x, y).item())
    gaps = [abs(a - b) for a, b in zip(curves["fused"], curves["explicit"])]
    return {"steps": steps, "max_abs_difference": max(gaps), "first": curves["fused"][0],
            "last": {p: c[-1] for p, c in curves.items()}, "curves": curves}


def paper_base_mfu(device: torch.device, *, batch: int, src_len: int, tgt_len: int, repeats: int, warmup: int,
                   **changes) -> dict:
    """Time the paper-base encoder-decoder's training step (`changes` shrink it, for tests) and
    report matmul FLOP/s and, on a GPU with a known peak, the model FLOPs utilization."""
    cfg = preset("paper-base", **changes)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, **OPTIMIZER, fused=True)
    src = torch.randint(0, cfg.vocab_size, (batch, src_len), device=device)
    tgt = torch.randint(0, cfg.target_vocab, (batch, tgt_len + 1), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast(device):
            logits = model(src, tgt[:, :-1])  # (B, T, V)
        F.cross_entropy(logits.float().flatten(0, 1), tgt[:, 1:].flatten()).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    s = time_alternately({"paper-base": step}, repeats=repeats, warmup=warmup, sync=device_sync(device))["paper-base"]
    step_flops = flops.training_step_flops(flops.seq2seq_forward_flops(cfg, batch, src_len, tgt_len))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    peak = flops.peak_flops(name) if device.type == "cuda" else None
    util = flops.mfu(step_flops, s.median, peak)
    return {"device_name": name, "batch": batch, "src_len": src_len, "tgt_len": tgt_len,
            "parameters": n_parameters(model), "step_flops": step_flops, **stats_dict(s),
            "flops_per_s": step_flops / s.median,
            "peak_tflops": None if peak is None else peak / 1e12, "mfu": None if util is None else round(util, 4)}


def step_table(results: list[dict]) -> str:
    rows = []
    for r in results:
        for name, c in r["contenders"].items():
            rows.append([r["size"]["name"], name, f"{c['parameters']:,}",
                         f"{c['ms']:.1f} [{c['q1_ms']:.1f}-{c['q3_ms']:.1f}]",
                         f"{c['cpu_ms']:.1f}", f"{c['tokens_per_s']:,}"])
        rows += [[r["size"]["name"], name, "skipped", why, "", ""] for name, why in r["skipped"].items()]
    lines = [table(["config", "contender", "params", "ms/step [quartiles]", "cpu ms", "tokens/s"], rows)]
    for r in results:
        for who, q in r["ratios"].items():
            cpu = f", {q['cpu_ratio']:.2f}x its CPU time" if "cpu_ratio" in q else ""
            lines.append(f"{r['size']['name']}: {who} takes {q['ratio']:.2f}x the time of the fastest peer "
                         f"({q['fastest_peer']}){cpu}")
    return "\n".join(lines)


def curve_line(name: str, c: dict) -> str:
    return (f"{name}: fused vs explicit blocklab over {c['steps']} steps: loss {c['first']:.4f} -> "
            f"{c['last']['fused']:.4f} (fused) / {c['last']['explicit']:.4f} (explicit); "
            f"largest step-for-step difference {c['max_abs_difference']:.2e}")
