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

Snapshots, train_reverse and eval_cache live in studies/common, as study 48 uses them too.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np
import torch

from blocklab.bench.timing import peak_memory
from blocklab.lab.registry import Cell, Study, Training, register
from blocklab.nn import ClassifierConfig, EncoderClassifier, HookPoint, scaled_dot_product_attention
from blocklab.report.results import as_floats, finished_runs, per_seed, seed_values
from blocklab.report.verdicts import Measurement, around, at_least, at_most
from blocklab.studies.common.reverse import train_reverse
from blocklab.studies.common.snapshots import Snapshots
from blocklab.studies.common.training import accuracy_and_mistakes, classify, eval_cache
from blocklab.tasks import copy_first
from blocklab.train import fit

from .captions import CAPTIONS
from .config import PATTERN, PROBE_SEED, SATURATION_DIM, SCORES, AttentionConfig
from .figures import draw_all


# ---------------------------------------------------------------------- attention probes
def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-30).log()).sum(-1)  # nats, over the last axis


def mean_pattern(model, x) -> torch.Tensor:
    """(H, S, S) attention weights averaged over the batch x."""
    return eval_cache(model, x, [PATTERN])[1][PATTERN].mean(0)


def same_qk(model, task, probe) -> dict:
    """Accuracy and the CLS row when every position carries the same query and the same key."""
    def flatten(act, hook):  # (B, T, H, Dh): every position gets the mean over positions
        return act.mean(dim=1, keepdim=True).expand_as(act)

    hooks = [("blocks.0.attn.hook_q", flatten), ("blocks.0.attn.hook_k", flatten)]
    x, y = task.splits["test"][:2]
    logits, cache = eval_cache(model, x, [PATTERN], hooks)
    cls = cache[PATTERN][:, :, 0]  # (B, H, S)
    return {"acc": 100 * (logits.argmax(-1) == y).float().mean().item(),
            "entropy_ratio": (_entropy(cls).mean() / math.log(cls.shape[-1])).item(),
            "max_weight": cls.max(-1).values.mean().item(),
            "pattern": eval_cache(model, probe, [PATTERN], hooks)[1][PATTERN].mean(0)}


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


@register
class Attention(Study):
    name = "attention"
    description = "47: attention learns to focus on copy-first; sqrt(d) scaling, temperature, heads, memory"
    claims = ("C000-06", "C000-07", "C000-16", "C003-05")
    claim_figures = {"C000-06": ("47_attention_learned.png",),
                     "C000-07": ("47_attention_learned.png", "47_attention_patterns.png"),
                     "C000-16": ("47_attention_failures.png",),
                     "C003-05": ("47_attention_scaling.png", "47_attention_failures.png")}
    group = "building-blocks"
    figure_captions = CAPTIONS
    Config = AttentionConfig
    quick = {"train.steps": 150, "train.eval_every": 25, "train.lr": 3e-3, "n_train": 1000, "n_test": 1000,
             "seq_lens": (128, 256, 512, 1024), "seq2seq_train.steps": 100, "seq2seq_train.eval_every": 10}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

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
            return train_reverse(ctx, seed, cfg.seq2seq_train)
        training = self.prepare(cell, seed, ctx)
        model, task = training.model, training.keep
        probe = copy_first(0, 0, cfg.n_probe, PROBE_SEED).splits["test"][0]
        init_acc, init_pattern = accuracy_and_mistakes(model, task)["acc"], mean_pattern(model, probe)
        snaps = Snapshots(ctx.work_dir / "cls_attention.json", lambda m: mean_pattern(m, probe)[:, 0])  # (H, S)
        snaps.record(0, model)
        result = fit(model, training.data, training.loss_fn, training.train, run_dir=ctx.work_dir,
                     callbacks=[snaps], progress=ctx.progress)
        model.save(ctx.model_dir)
        logits, cache = eval_cache(model, probe[:1], [SCORES, PATTERN])
        tokens = init_pattern.mean(0)[0, 1:]  # the CLS row over x_1..x_5, renormalised: uniform is 0.2 each
        _, probe_cache = eval_cache(model, probe, [PATTERN])
        return {"init_acc": init_acc, **accuracy_and_mistakes(model, task), "chance": 100 / task.n_classes,
                "init_uniform_dev": 100 * (tokens / tokens.sum() - 0.2).abs().max().item(),
                "weight_x1": 100 * probe_cache[PATTERN][:, :, 0, 1].mean().item(),
                "cls_entropy": _entropy(probe_cache[PATTERN][:, :, 0]).mean().item(),
                "init_pattern": init_pattern, "pattern": probe_cache[PATTERN].mean(0),
                "same_qk": same_qk(model, task, probe),
                "mechanism": {"tokens": probe[0], "scores": cache[SCORES][0], "weights": cache[PATTERN][0],
                              "probs": logits.softmax(-1)[0]},
                "snapshots": snaps.as_dict(), **result.to_dict()}

    def prepare(self, cell, seed, ctx):
        """A copy cell's classifier and task. Its seeds do not stack: the CLS attention is snapshotted by a
        callback at every evaluation, which fit_stacked does not call."""
        cfg = ctx.cfg
        task = copy_first(cfg.n_train, 500, cfg.n_test, seed)
        model = EncoderClassifier(ClassifierConfig(**{
            "vocab_size": task.vocab_size, "n_classes": task.n_classes, "d_model": cfg.d_model, "n_heads": 1,
            "n_layers": 1, "pooling": "cls", "ffn": False, "scale_embeddings": True, "max_len": 16,
            **cell.params["model"]}))
        return Training(model, task.splits, classify, cfg.train.replace(seed=seed, device=ctx.device), keep=task)

    def figures(self, results, fig_dir):
        return draw_all(results, fig_dir)

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
            Measurement("C000-07", "~0.995 on position 0 after training", seed_values(results, "copy", "weight_x1"),
                        "%", around(99.5, 0.5), part="focused after training",
                        note="CLS query's weight on x1 out of all 6 keys, mean over the probe batch"),
        ]
        runs = {r["seed"]: r["metrics"] for r in finished_runs(results, "scaling")}
        dims = cfg["head_dims"]
        if SATURATION_DIM in dims:
            i = dims.index(SATURATION_DIM)
            def column(path: str, key: str) -> np.ndarray:  # a null (non-finite) value reads as NaN
                return as_floats([m[path][key][i] for m in runs.values()])

            saturation = (100 * column("unscaled", "max_weight")).tolist()
            grad_ratio = (100 * column("unscaled", "grad_norm") / column("scaled", "grad_norm")).tolist()
            where = f"random unit-variance q, k, head dim {SATURATION_DIM}, {cfg['n_keys']} keys"
            for claim in ("C000-16", "C003-05"):
                out.append(Measurement(claim, "no √d scaling saturates softmax", saturation, "%", at_least(90),
                                       part="no scaling: largest softmax weight",
                                       note=f"{where}; saturated = the top key takes at least 90% of the weight"))
            out.append(Measurement("C003-05", "gradients become tiny", grad_ratio, "%", at_most(10),
                                   part="no scaling: gradient at the scores, % of the scaled one",
                                   note=f"{where}; random upstream gradient; tiny = under 10% of the scaled case"))
        base = per_seed(results, "copy", "cls_entropy", numeric=True)
        for t, rule, word in ((min(cfg["temperatures"]), at_most(0), "sharpens"),
                              (max(cfg["temperatures"]), at_least(0), "flattens")):
            other = per_seed(results, f"copy-temp{t:g}", "cls_entropy", numeric=True)
            out.append(Measurement(
                "C000-16", f"temperature too {'low' if word == 'sharpens' else 'high'} {word}",
                [other[s] - base[s] for s in sorted(base.keys() & other.keys())], "nats", rule,
                part=f"temperature {t:g}: trained CLS entropy minus temperature 1's",
                note="entropy of the CLS query's weights over 6 keys (max ln 6 = 1.79), same seed and data"))
        return out
