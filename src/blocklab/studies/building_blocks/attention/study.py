"""47 attention: a query learns where to look, and what breaks attention.

Task: tasks.copy_first (5 tokens over 5 symbols -> the first; chance 20%). Model: a
one-layer EncoderClassifier with CLS pooling, sinusoidal positions, embeddings scaled by
sqrt(D) and no FFN, so the class is read off the CLS position after one attention step:
the CLS query's weights over [CLS, x_1..x_5] (row 0 of blocks.0.attn.hook_pattern) are
the readout. They are recorded on a fixed probe batch (the same for every seed) at init
and at every evaluation. Other cells change one config field: attn_scale=False,
attn_temperature 0.05 and 20, n_heads=4. The trained model is also run with identical
queries and keys at every position (hooks replace hook_q and hook_k by their mean).

Without training: softmax over random unit-variance q, k for head dims 8..512, with and
without 1/sqrt(d): entropy, top weight, and the norm of the gradient that reaches the
scores (the softmax input) from a random upstream gradient; and the peak memory and time
of one attention forward against sequence length, on the explicit path (which holds the
(T, T) scores) and the fused F.scaled_dot_product_attention. Peak memory is measured with
torch.profiler(profile_memory=True): every allocation and free inside the call, in time
order, and the maximum of their running sum. A Seq2SeqTransformer trained on
tasks.reverse gives encoder-self, decoder-self (causal) and cross-attention patterns.

Study 48 borrows Snapshots, by_seed, per_seed and train_reverse from here (importing them
the other way would register 48 before 47 and put the group out of seed order).
"""
from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.bench.timing import peak_memory
from blocklab.io import atomic_write_text, jsonable
from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import (
    ClassifierConfig, EncoderClassifier, HookPoint, Seq2SeqConfig, Seq2SeqTransformer, scaled_dot_product_attention,
)
from blocklab.report.results import finished_runs, seed_values
from blocklab.report.verdicts import Measurement, around, at_least, at_most
from blocklab.studies.common.training import accuracy_and_mistakes, classify
from blocklab.tasks import copy_first, reverse
from blocklab.train import TrainConfig, accuracy, fit

PROBE_SEED = 20_000
PATTERN, SCORES = "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_attn_scores"
SATURATION_DIM = 64  # the head dim the saturation claims are measured at: GPT-2's and BERT's
REVERSE_PATTERNS = {"encoder_self": "encoder.blocks.0.attn.hook_pattern",
                    "decoder_self": "decoder.blocks.0.attn.hook_pattern",
                    "cross": "decoder.blocks.0.cross_attn.hook_pattern"}


# ---------------------------------------------------------------------- shared with study 48
class Snapshots:
    """A fit callback that records take(model) at every evaluation, in eval mode.

    The values live in a JSON file in the pair's work folder: fit runs no callbacks when it
    finds its run already finished, so the file is what remembers them across reruns.
    """

    def __init__(self, path: Path, take: Callable[[nn.Module], Any]) -> None:
        self.path, self.take = path, take
        self.by_step: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    @torch.no_grad()
    def record(self, step: int, model: nn.Module) -> None:
        was = model.training
        model.eval()
        try:
            self.by_step[str(step)] = jsonable(self.take(model))
        finally:
            model.train(was)
        atomic_write_text(self.path, json.dumps(self.by_step))

    def __call__(self, event: str, state) -> None:
        if event == "eval":
            self.record(state.step, state.model)

    def as_dict(self) -> dict:
        steps = sorted(self.by_step, key=int)
        return {"steps": [int(s) for s in steps], "values": [self.by_step[s] for s in steps]}


def by_seed(results: dict, cell: str, key: str) -> dict[int, float]:
    """{seed: value} of one metric, so that two cells can be compared seed by seed."""
    return {r["seed"]: v for r, v in zip(finished_runs(results, cell), seed_values(results, cell, key))}


def per_seed(results: dict, cell: str, key: str) -> list:
    """The raw (list or dict) metric of every finished seed of a cell."""
    return [r["metrics"][key] for r in finished_runs(results, cell) if key in r["metrics"]]


def teacher_forced(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy of each target token given the source and the target before it; for fit()."""
    src, tgt, dec_in = batch[:3]
    logits = model(src, dec_in)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten()), {"acc": accuracy(logits, tgt)}


def train_reverse(ctx, seed: int, steps: int, lr: float, eval_every: int) -> dict:
    """A 1+1-layer Seq2SeqTransformer trained on tasks.reverse: its history, exact-sequence
    accuracy under greedy decoding, first mistakes, and each attention pattern (L, L) averaged
    over the test split and the heads."""
    task = reverse(2000, 200, 500, seed)
    model = Seq2SeqTransformer(Seq2SeqConfig(
        vocab_size=task.vocab_size, d_model=32, n_heads=2, d_ff=64, n_encoder_layers=1, n_decoder_layers=1,
        max_len=16, scale_embeddings=True))  # scaled as in the paper: the sinusoids would drown 0.02-std tokens
    train = TrainConfig(steps=steps, lr=lr, batch_size=64, eval_every=eval_every, log_every=None, seed=seed,
                        device=ctx.device)
    result = fit(model, task.splits, teacher_forced, train, run_dir=ctx.work_dir, progress=ctx.progress)
    src, tgt, dec_in = task.splits["test"]
    _, cache = _cache(model, (src, dec_in), list(REVERSE_PATTERNS.values()))
    device = next(model.parameters()).device
    pred = model.greedy_decode(src.to(device), bos_id=task.vocab_size - 1, max_len=tgt.shape[1]).cpu()  # BOS: last id
    return {"seq_acc": 100.0 * (pred == tgt).all(1).float().mean().item(), "mistakes": task.mistakes("test", pred),
            "patterns": {k: cache[name].mean((0, 1)) for k, name in REVERSE_PATTERNS.items()}, **result.to_dict()}


# ---------------------------------------------------------------------- attention probes
@torch.no_grad()
def _cache(model, inputs, names, fwd_hooks=()):
    """Logits and cached activations (on the CPU) of one eval-mode pass; inputs is a tensor or a
    tuple of them; the model's mode is restored."""
    device, was = next(model.parameters()).device, model.training
    inputs = [t.to(device) for t in (inputs if isinstance(inputs, tuple) else (inputs,))]
    model.eval()
    try:
        with model.hooks(fwd_hooks):
            logits, cache = model.run_with_cache(*inputs, names=names)
    finally:
        model.train(was)
    return logits.cpu(), {k: v.cpu() for k, v in cache.items()}


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-30).log()).sum(-1)  # nats, over the last axis


def mean_pattern(model, x) -> torch.Tensor:
    """(H, S, S) attention weights averaged over the batch x."""
    return _cache(model, x, [PATTERN])[1][PATTERN].mean(0)


def same_qk(model, task, probe) -> dict:
    """Accuracy and the CLS row when every position carries the same query and the same key."""
    def flatten(act, hook):  # (B, T, H, Dh): every position gets the mean over positions
        return act.mean(dim=1, keepdim=True).expand_as(act)

    hooks = [("blocks.0.attn.hook_q", flatten), ("blocks.0.attn.hook_k", flatten)]
    x, y = task.splits["test"][:2]
    logits, cache = _cache(model, x, [PATTERN], hooks)
    cls = cache[PATTERN][:, :, 0]  # (B, H, S)
    return {"acc": 100 * (logits.argmax(-1) == y).float().mean().item(),
            "entropy_ratio": (_entropy(cls).mean() / math.log(cls.shape[-1])).item(),
            "max_weight": cls.max(-1).values.mean().item(),
            "pattern": _cache(model, probe, [PATTERN], hooks)[1][PATTERN].mean(0)}


def softmax_scaling(head_dims, n_queries: int, n_keys: int) -> dict:
    """Softmax statistics over random unit-variance q, k, with and without 1/sqrt(d)."""
    out = {"head_dims": list(head_dims), "scaled": {}, "unscaled": {}}
    for d in head_dims:
        # n_queries independent problems (batch rows), each one query over its own n_keys keys
        q = torch.randn(n_queries, 1, 1, d, requires_grad=True)  # (B, H, T, d)
        k, v = torch.randn(n_queries, 1, n_keys, d), torch.randn(n_queries, 1, n_keys, d)  # (B, H, S, d)
        upstream = torch.randn(n_queries, 1, 1, n_keys)  # random: a plain sum would give zero gradient
        for name in ("scaled", "unscaled"):
            seen = {}
            hook = HookPoint()
            hook.register_forward_hook(lambda mod, inp, scores: seen.setdefault("scores", scores))
            _, w = scaled_dot_product_attention(q, k, v, scale=name == "scaled", need_weights=True, hook_scores=hook)
            (grad,) = torch.autograd.grad(w, seen["scores"], upstream)  # d loss / d softmax input
            for key, value in (("entropy", _entropy(w).mean()), ("max_weight", w.max(-1).values.mean()),
                               ("grad_norm", grad.norm(dim=-1).mean())):
                out[name].setdefault(key, []).append(value.item())
    return out


@torch.no_grad()
def attention_cost(seq_lens, head_dim: int = 64, repeats: int = 5) -> dict:
    """Peak memory (bytes, profiled) and time (s, the fastest of `repeats`: the least disturbed by other
    processes) of one attention forward with one sequence and one head."""
    inputs = {T: [torch.randn(1, 1, T, head_dim) for _ in range(3)] for T in seq_lens}
    out = {"seq_lens": list(seq_lens)}
    for path, fused in {"explicit": False, "fused": True}.items():
        peaks, times = [], []
        for T in seq_lens:
            call = functools.partial(scaled_dot_product_attention, *inputs[T], fused=fused)
            peaks.append(peak_memory(call, torch.device("cpu")))
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                runs.append(time.perf_counter() - start)
            times.append(min(runs))
        out[path] = {"peak_bytes": peaks, "seconds": times}
    return out


@dataclass
class AttentionConfig:
    steps: int = 600
    lr: float = 1e-3
    batch_size: int = 64
    eval_every: int = 50  # also when the CLS attention is recorded
    n_train: int = 2000
    n_test: int = 2000
    n_probe: int = 256
    d_model: int = 32
    temperatures: tuple[float, ...] = (0.05, 20.0)
    multi_heads: int = 4
    head_dims: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
    n_queries: int = 1024
    n_keys: int = 16
    seq_lens: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    seq2seq_steps: int = 300
    seq2seq_lr: float = 3e-3


@register
class Attention(Study):
    name = "attention"
    description = "47: attention learns to focus on copy-first; sqrt(d) scaling, temperature, heads, memory"
    claims = ("C000-06", "C000-07", "C000-16", "C003-05")
    group = "building-blocks"
    Config = AttentionConfig
    quick = {"steps": 150, "eval_every": 25, "lr": 3e-3, "n_train": 1000, "n_test": 1000,
             "seq_lens": (128, 256, 512, 1024), "seq2seq_steps": 100}

    def cells(self, cfg):
        return ([Cell("copy", {"model": {}}), Cell("copy-noscale", {"model": {"attn_scale": False}})]
                + [Cell(f"copy-temp{t:g}", {"model": {"attn_temperature": t}}) for t in cfg.temperatures]
                + [Cell(f"copy-heads{cfg.multi_heads}", {"model": {"n_heads": cfg.multi_heads}}),
                   Cell("scaling", {"probe": "scaling"}), Cell("memory", {"probe": "memory"}),
                   Cell("self-cross", {"probe": "seq2seq"})])

    def run_cell(self, cell, seed, ctx):
        cfg, kind = ctx.cfg, cell.params.get("probe")
        if kind == "scaling":
            return softmax_scaling(cfg.head_dims, cfg.n_queries, cfg.n_keys)
        if kind == "memory":
            return attention_cost(cfg.seq_lens)
        if kind == "seq2seq":
            return train_reverse(ctx, seed, cfg.seq2seq_steps, cfg.seq2seq_lr, max(cfg.seq2seq_steps // 10, 1))
        task = copy_first(cfg.n_train, 500, cfg.n_test, seed)
        probe = copy_first(0, 0, cfg.n_probe, PROBE_SEED).splits["test"][0]
        model = EncoderClassifier(ClassifierConfig(**{
            "vocab_size": task.vocab_size, "n_classes": task.n_classes, "d_model": cfg.d_model, "n_heads": 1,
            "n_layers": 1, "pooling": "cls", "ffn": False, "scale_embeddings": True, "max_len": 16,
            **cell.params["model"]}))
        init_acc, init_pattern = accuracy_and_mistakes(model, task)["acc"], mean_pattern(model, probe)
        snaps = Snapshots(ctx.work_dir / "cls_attention.json", lambda m: mean_pattern(m, probe)[:, 0])  # (H, S)
        snaps.record(0, model)
        train = TrainConfig(steps=cfg.steps, lr=cfg.lr, batch_size=cfg.batch_size, eval_every=cfg.eval_every,
                            log_every=None, seed=seed, device=ctx.device)
        result = fit(model, task.splits, classify, train, run_dir=ctx.work_dir, callbacks=[snaps], progress=ctx.progress)
        logits, cache = _cache(model, probe[:1], [SCORES, PATTERN])
        tokens = init_pattern.mean(0)[0, 1:]  # the CLS row over x_1..x_5, renormalised: uniform is 0.2 each
        _, probe_cache = _cache(model, probe, [PATTERN])
        return {"init_acc": init_acc, **accuracy_and_mistakes(model, task), "chance": 100 / task.n_classes,
                "init_uniform_dev": 100 * (tokens / tokens.sum() - 0.2).abs().max().item(),
                "weight_x1": 100 * probe_cache[PATTERN][:, :, 0, 1].mean().item(),
                "cls_entropy": _entropy(probe_cache[PATTERN][:, :, 0]).mean().item(),
                "init_pattern": init_pattern, "pattern": probe_cache[PATTERN].mean(0),
                "same_qk": same_qk(model, task, probe),
                "mechanism": {"tokens": probe[0], "scores": cache[SCORES][0], "weights": cache[PATTERN][0],
                              "probs": logits.softmax(-1)[0]},
                "snapshots": snaps.as_dict(), **result.to_dict()}

    def figures(self, results, fig_dir):
        from . import figures as s47_figures  # the drawing code reads only `results`; it lives beside the study

        return s47_figures.draw_all(results, fig_dir)

    # ------------------------------------------------------------------ claims
    def measure(self, results):
        cfg = results["config"]
        out = [
            Measurement("C000-06", "20% (random guess)", seed_values(results, "copy", "init_acc"), "%", around(20, 5),
                        part="untrained model", note="test accuracy of the model before training"),
            Measurement("C000-06", "100%", seed_values(results, "copy", "acc"), "%", at_least(99), part="trained"),
            Measurement("C000-07", "[0.2 ×5] before training", seed_values(results, "copy", "init_uniform_dev"), "pp",
                        at_most(1), part="uniform at init",
                        note="largest gap from 0.2 of the CLS row over x1..x5, renormalised (the CLS key is excluded)"),
            Measurement("C000-07", "~0.995 on position 0 after training", seed_values(results, "copy", "weight_x1"), "%",
                        around(99.5, 0.5), part="focused after training",
                        note="CLS query's weight on x1 out of all 6 keys, mean over the probe batch"),
        ]
        runs = {r["seed"]: r["metrics"] for r in finished_runs(results, "scaling")}
        dims = cfg["head_dims"]
        if SATURATION_DIM in dims:
            i = dims.index(SATURATION_DIM)
            saturation = [100 * m["unscaled"]["max_weight"][i] for m in runs.values()]
            grad_ratio = [100 * m["unscaled"]["grad_norm"][i] / m["scaled"]["grad_norm"][i] for m in runs.values()]
            where = f"random unit-variance q, k, head dim {SATURATION_DIM}, {cfg['n_keys']} keys"
            for claim in ("C000-16", "C003-05"):
                out.append(Measurement(claim, "no √d scaling saturates softmax", saturation, "%", at_least(90),
                                       part="no scaling: largest softmax weight",
                                       note=f"{where}; saturated = the top key takes at least 90% of the weight"))
            out.append(Measurement("C003-05", "gradients become tiny", grad_ratio, "%", at_most(10),
                                   part="no scaling: gradient at the scores, % of the scaled one",
                                   note=f"{where}; random upstream gradient; tiny = under 10% of the scaled case"))
        base = by_seed(results, "copy", "cls_entropy")
        for t, rule, word in ((min(cfg["temperatures"]), at_most(0), "sharpens"),
                              (max(cfg["temperatures"]), at_least(0), "flattens")):
            other = by_seed(results, f"copy-temp{t:g}", "cls_entropy")
            out.append(Measurement(
                "C000-16", f"temperature too {'low' if word == 'sharpens' else 'high'} {word}",
                [other[s] - base[s] for s in sorted(base.keys() & other.keys())], "nats", rule,
                part=f"temperature {t:g}: trained CLS entropy minus temperature 1's",
                note="entropy of the CLS query's weights over 6 keys (max ln 6 = 1.79), same seed and data"))
        return out
