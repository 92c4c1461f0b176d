"""train-features (issue 8): what gradient checkpointing and int8 inference save, and what they cost.

Two cells, each run on every seed:

checkpointing  one training step (forward, loss, backward with a fresh set of gradients) of a
               GPT of the `ckpt_*` size on random tokens, with and without gradient
               checkpointing (TrainConfig.grad_checkpointing): its peak memory (CPU: every
               allocation and free recorded by torch.profiler, walked for the high point; CUDA:
               the allocator's own peak), its time (the fastest of `repeats`, wall and CPU), and
               the largest difference between the two runs' gradients, which must be 0.
int8           a character-level GPT trained on Python's standard-library source (the
               python_code corpus, split by file), then evaluated in float32 and after
               quantize_int8 on held-out files: loss (nats per character), next-character
               accuracy, how often the two models predict different characters, and the bytes
               of each model's state. The first disagreements are kept as examples.

Seed 003 lists both as planned features ("gradient checkpointing (enables larger models)",
"model quantization (INT8 for inference)") without a figure, so no claim is measured: the
numbers are the features' specification sheet.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

import torch
from torch import nn

from ..bench.timing import peak_memory
from ..config import Config, PositiveInt, Range
from ..lab.registry import Cell, Study, register
from ..nn import GPT, GPTConfig, set_grad_checkpointing
from ..report import plots
from ..report.results import config_value, finished_runs, seed_values
from ..report.stats import mean_ci
from ..report.tables import Table
from ..tasks.python_code import load_corpus
from ..train import TrainConfig, compare_int8, fit, quantize_int8, resolve_device
from .common.training import next_token

RANDOM_VOCAB = 256  # the checkpointing cell's random tokens: the size of a byte vocabulary


@dataclass
class TrainFeaturesConfig(Config):
    ckpt_d_model: PositiveInt = 256  # heads of width 64
    ckpt_layers: PositiveInt = 8
    ckpt_seq_len: PositiveInt = 256
    ckpt_batch: PositiveInt = 8
    repeats: PositiveInt = 3  # timed steps per mode; the fastest is kept
    lm_d_model: Annotated[int, Range(ge=32)] = 128  # heads of width 32
    lm_layers: PositiveInt = 2
    lm_context: PositiveInt = 64  # characters a window predicts from
    lm_train_chars: PositiveInt = 400_000
    lm_test_chars: PositiveInt = 60_000
    # the int8 cell's character LM
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1500, batch_size=32, lr=3e-3, schedule="cosine", warmup_steps=100, eval_every=None))


def char_windows(text: str, tokenizer, context: int) -> torch.Tensor:
    """Non-overlapping (N, context + 1) windows of the encoded text; the tail that does not fill one is dropped."""
    ids = torch.from_numpy(tokenizer.encode(text))
    n = ids.numel() // (context + 1)
    return ids[: n * (context + 1)].reshape(n, context + 1)


def step_costs(cfg: TrainFeaturesConfig, seed: int, device: torch.device) -> dict:
    torch.manual_seed(seed)
    d = cfg.ckpt_d_model
    model = GPT(GPTConfig(vocab_size=RANDOM_VOCAB, d_model=d, n_heads=d // 64, n_layers=cfg.ckpt_layers, d_ff=4 * d,
                          max_len=cfg.ckpt_seq_len)).to(device)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, RANDOM_VOCAB, (cfg.ckpt_batch, cfg.ckpt_seq_len + 1), generator=g).to(device)

    def step() -> None:
        next_token(model, (tokens,))[0].backward()

    out: dict = {}
    grads = {}
    for mode, on in (("plain", False), ("checkpointed", True)):
        set_grad_checkpointing(model, on)
        model.zero_grad(set_to_none=True)
        step()  # warm-up: allocations a first call makes once are not the step's
        model.zero_grad(set_to_none=True)  # outside the measurement: the step allocates its gradients
        out[f"{mode}_peak_mb"] = peak_memory(step, device) / 2**20
        grads[mode] = [p.grad.clone() for p in model.parameters()]
        wall, cpu = [], []
        for _ in range(cfg.repeats):
            model.zero_grad(set_to_none=True)
            w0, c0 = time.perf_counter(), time.process_time()
            step()
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        out[f"{mode}_seconds"], out[f"{mode}_cpu_seconds"] = min(wall), min(cpu)
    out["saved_percent"] = 100 * (1 - out["checkpointed_peak_mb"] / out["plain_peak_mb"])
    out["time_ratio"] = out["checkpointed_cpu_seconds"] / out["plain_cpu_seconds"]
    out["max_grad_difference"] = max((a - b).abs().max().item() for a, b in zip(grads["plain"], grads["checkpointed"]))
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out


def compare_predictions(model: nn.Module, quantized: nn.Module, windows: torch.Tensor, tokenizer, repeats: int,
                        limit: int = 5) -> dict:
    """How often float and int8 predict different next characters (%), the first few cases, and the
    CPU seconds of one forward pass over all windows for each (the fastest of `repeats`)."""
    out, predicted = {}, {}
    for name, m in (("float", model), ("int8", quantized)):
        seconds = []
        for _ in range(repeats):
            start = time.process_time()
            with torch.no_grad():
                predicted[name] = torch.cat([m(w[:, :-1]).argmax(-1) for w in windows.split(256)])  # (N, T)
            seconds.append(time.process_time() - start)
        out[f"{name}_forward_cpu_seconds"] = min(seconds)
    a, b = predicted["float"], predicted["int8"]
    differ = (a != b).nonzero()[:limit].tolist()
    char = tokenizer.decode
    out["disagreements"] = [
        f"after {char(windows[i, max(0, t - 24) : t + 1])!r}: float says {char(a[i, t : t + 1])!r}, "
        f"int8 {char(b[i, t : t + 1])!r}, truth {char(windows[i, t + 1 : t + 2])!r}" for i, t in differ]
    out["disagree_percent"] = 100 * (a != b).float().mean().item()
    return out


def int8_change(cfg: TrainFeaturesConfig, seed: int, ctx) -> dict:
    corpus = load_corpus(caps={"train": cfg.lm_train_chars, "val": 0, "test": cfg.lm_test_chars})
    tokenizer = corpus.tokenizer()
    train, test = (char_windows(corpus.texts[s], tokenizer, cfg.lm_context) for s in ("train", "test"))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, d_model=cfg.lm_d_model, n_heads=cfg.lm_d_model // 32,
                          n_layers=cfg.lm_layers, d_ff=4 * cfg.lm_d_model, max_len=cfg.lm_context))
    train_cfg = cfg.train.replace(seed=seed, device=ctx.device)
    result = fit(model, {"train": (train,)}, next_token, train_cfg, run_dir=ctx.work_dir, progress=ctx.progress)
    model.save(ctx.model_dir, tokenizer=tokenizer)
    model.cpu()  # int8 inference runs on the CPU; so does the float model it is compared with
    report = compare_int8(model, (test,), next_token)
    return {
        "float_loss": report["float"]["loss"], "int8_loss": report["int8"]["loss"],
        "loss_change": report["change"]["loss"],
        "float_acc": 100 * report["float"]["acc"], "int8_acc": 100 * report["int8"]["acc"],
        "acc_change_pp": 100 * report["change"]["acc"],
        "float_kb": report["float_bytes"] / 1024, "int8_kb": report["int8_bytes"] / 1024,
        "size_ratio": report["size_ratio"], "vocab": tokenizer.vocab_size, "test_windows": len(test),
        **compare_predictions(model, quantize_int8(model), test, tokenizer, cfg.repeats),
        "diverged": result.diverged, "train_final": result.final,
    }


@register
class TrainFeatures(Study):
    name = "train-features"
    description = "issue 8: gradient checkpointing's memory and time, int8 inference's size and accuracy"
    Config = TrainFeaturesConfig
    quick = {"ckpt_d_model": 128, "ckpt_layers": 4, "ckpt_seq_len": 128, "repeats": 1, "lm_d_model": 64,
             "train.steps": 200, "train.warmup_steps": 20, "lm_train_chars": 100_000, "lm_test_chars": 20_000}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg: TrainFeaturesConfig) -> list[Cell]:
        return [Cell("checkpointing"), Cell("int8")]

    def run_cell(self, cell: Cell, seed: int, ctx) -> dict:
        if cell.name == "checkpointing":
            return step_costs(ctx.cfg, seed, resolve_device(ctx.device))
        return int8_change(ctx.cfg, seed, ctx)

    def figures(self, results: dict, fig_dir) -> list[str]:
        fig, axes = plots.figure(1, 3, width=4.2)
        panels = [
            ("checkpointing", ("plain_peak_mb", "checkpointed_peak_mb"), "peak memory of a step (MiB)"),
            ("checkpointing", ("plain_cpu_seconds", "checkpointed_cpu_seconds"), "CPU seconds per step"),
            ("int8", ("float_acc", "int8_acc"), "next-character accuracy (%)"),
        ]
        for ax, (cell, keys, label) in zip(axes, panels):
            plots.bars_with_ci(ax, [k.split("_")[0] for k in keys], [seed_values(results, cell, k) for k in keys],
                               scale=plots.ACCURACY if "accuracy" in label else plots.NONNEGATIVE)
            ax.set_ylabel(label)
            ax.set_title(f"{cell}: {label.split(' (')[0]}")
        return [plots.save(fig, fig_dir, "train_features.png")]

    def tables(self, results: dict) -> list[Table]:
        def row(cell: str, key: str, what: str) -> list:
            interval = mean_ci(seed_values(results, cell, key))
            ci = "—" if interval.low is None else f"[{interval.low:.4g}, {interval.high:.4g}]"
            return [what, interval.mean, ci, interval.n]

        rows = [row("checkpointing", k, w) for k, w in (
            ("plain_peak_mb", "peak memory of a training step, plain (MiB)"),
            ("checkpointed_peak_mb", "peak memory, gradient checkpointing (MiB)"),
            ("saved_percent", "memory saved (%)"),
            ("time_ratio", "CPU time, checkpointed / plain"),
            ("max_grad_difference", "largest gradient difference"),
        )] + [row("int8", k, w) for k, w in (
            ("float_loss", "test loss, float32 (nats/char)"), ("int8_loss", "test loss, int8"),
            ("float_acc", "next-character accuracy, float32 (%)"), ("int8_acc", "next-character accuracy, int8 (%)"),
            ("acc_change_pp", "accuracy change (percentage points)"),
            ("disagree_percent", "predictions that differ (%)"),
            ("float_kb", "state, float32 (KiB)"), ("int8_kb", "state, int8 (KiB)"),
            ("float_forward_cpu_seconds", "CPU seconds to predict the test set, float32"),
            ("int8_forward_cpu_seconds", "CPU seconds to predict the test set, int8"),
        )]
        cfg = results["config"]
        runs = finished_runs(results, "int8")
        examples = runs[0]["metrics"]["disagreements"][:3] if runs else []
        note = (f"Checkpointing: a GPT of width {cfg['ckpt_d_model']}, {cfg['ckpt_layers']} layers, "
                f"{cfg['ckpt_batch']} x {cfg['ckpt_seq_len']} tokens. int8: a {cfg['lm_layers']}-layer GPT of width "
                f"{cfg['lm_d_model']} after {config_value(results, 'train.steps', 'lm_steps')} steps on "
                f"{cfg['lm_train_chars']:,} characters. "
                "First disagreements (seed of the first run): " + "; ".join(examples))
        return [Table("Measured: mean [95% CI] over seeds", ["quantity", "mean", "95% CI", "seeds"], rows, note)]
