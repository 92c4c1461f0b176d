"""Source document 004, "Copilot": a ~33k-parameter character GPT learns Python autocomplete on the numpy engine.

Data: the running interpreter's standard library, tests excluded, split by file (tasks/python_code.py),
capped at `train_chars` / `val_chars` / `test_chars`. Model: the seed's Copilot GPT (d_model 32,
2 layers, 2 heads, context 64, d_ff 128, learned positions, untied output without bias), with
27,520 + 64 x V parameters for V characters: the seed's 33,472 is V = 93 (not its stated 25);
the full run's vocabulary has 97 (33,728). Training: Adam (AdamW without weight decay) at lr
3e-3 after 50 warm-up steps, batches of 32 random windows, no clipping (as Level 1).

At each checkpoint step (75 is the seed's run: 180 s at its 2.4 s/step) the study saves the
model for `blocklab generate`, measures validation bits per character, and decodes with each
strategy (greedy, temperature, top-k, top-p): exact match and prefix match on `n_lines`
held-out line completions, and the seed's five demos (nonempty, valid Python, repetitive).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from blocklab.autograd import GPT
from blocklab.autograd.bench import BENCH_CONFIGS, bench_engine
from blocklab.autograd.checkpoint import save_checkpoint
from blocklab.autograd.train import TokenWindows, check_train_config, evaluate, fit
from blocklab.config import Config, NonEmpty, PositiveInt
from blocklab.data.stdlib_code import load_stdlib_code
from blocklab.errors import ConfigError
from blocklab.lab.registry import Cell, Study, register
from blocklab.runtime import set_blas_threads
from blocklab.tasks.python_code import DEMOS, completion_scores, demo_checks, line_completions
from blocklab.train import TrainConfig

from .analysis import SEED_STEPS, copilot_figures, copilot_measurements
from .captions import CAPTIONS

CONTEXT = BENCH_CONFIGS["copilot"][0].max_len
STRATEGIES = {  # name -> GPT.generate keywords
    "greedy": {"temperature": 0.0},
    "temperature": {"temperature": 0.5},
    "top_k": {"temperature": 1.0, "top_k": 5},
    "top_p": {"temperature": 1.0, "top_p": 0.9},
}


@dataclass
class CopilotConfig(Config):
    # eval_every is derived: the greatest common divisor of the checkpoints
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=3e-3, schedule="warmup", warmup_steps=50,
                                                                     steps=2000, batch_size=32, log_every=5,
                                                                     checkpoint_seconds=None))
    checkpoints: NonEmpty[tuple[PositiveInt, ...]] = (SEED_STEPS, 250, 500, 1000, 2000)
    train_chars: PositiveInt = 2_000_000
    val_chars: PositiveInt = 64_000
    test_chars: PositiveInt = 200_000
    min_char_count: PositiveInt = 100  # rarer characters of the training text encode as <unk>
    n_lines: PositiveInt = 48  # held-out line completions per checkpoint and strategy
    demo_tokens: PositiveInt = 30  # characters generated per demo, as the seed's demo
    bench_repeats: PositiveInt = 20
    corpus_root: str = ""  # "": the running interpreter's standard library

    def validate(self) -> None:
        super().validate()
        check_train_config(self.train, study=True)  # the numpy engine's trainer: no checkpoints, devices or autocast
        points = list(self.checkpoints)
        if points != sorted(set(points)) or points[-1] != self.train.steps:
            raise ConfigError(f"CopilotConfig.checkpoints={self.checkpoints!r} is not valid; they must rise strictly "
                              f"and end at train.steps={self.train.steps}")


@functools.lru_cache(maxsize=2)
def copilot_data(root: str, train_chars: int, val_chars: int, test_chars: int, min_count: int, n_lines: int):
    """Corpus summary, tokenizer, train and val ids, held-out lines: the same for every seed, built once."""
    corpus = load_stdlib_code({"train": train_chars, "val": val_chars, "test": test_chars}, root or None)
    tok = corpus.tokenizer(min_count)
    lines = line_completions(corpus.file_texts["test"], n_lines, CONTEXT)
    return corpus.summary(), tok, tok.encode(corpus.texts["train"]), tok.encode(corpus.texts["val"]), lines


def decode_all(model: GPT, tok, lines, demo_tokens: int, seed: int) -> tuple[dict, dict]:
    """Per strategy: metrics (exact %, prefix %, demo counts) and samples (demo lines, first line completions)."""
    prompts = np.stack([tok.encode(line.prompt) for line in lines])  # (N, CONTEXT)
    new = max(len(line.target) for line in lines) + 1
    metrics, samples = {}, {}
    for name, kwargs in STRATEGIES.items():
        g = torch.Generator().manual_seed(seed)
        out = model.generate(prompts, new, generator=g, **kwargs)[:, CONTEXT:]  # (N, new)
        texts = [tok.decode(row) for row in out]
        scores = [completion_scores(t, line.target) for t, line in zip(texts, lines)]
        demos = [demo_checks(p, tok.decode(model.generate(tok.encode(p)[None], demo_tokens, generator=g, **kwargs)
                                           [0, len(p):])) for p in DEMOS]
        metrics[name] = {"exact": 100 * np.mean([s[0] for s in scores]),
                         "prefix": 100 * np.mean([s[1] for s in scores]),
                         **{f"demos_{k}": sum(d[k] for d in demos) for k in ("nonempty", "valid", "repetitive")}}
        samples[name] = {"demos": [d["line"] for d in demos],
                         "lines": [[line.target, t.split("\n", 1)[0]] for t, line in zip(texts[:6], lines)]}
    return metrics, samples


@register
class TinyTorchCopilot(Study):
    name = "tinytorch-copilot"
    description = "004: Copilot, character-level Python autocomplete on the stdlib, numpy engine: loss, decoding, speed"
    claims = ("C004-02", "C004-03", "C004-04")
    claim_figures = {"C004-02": ("004_copilot_loss.png", "004_copilot_failure_modes.png"),
                     "C004-03": ("004_copilot_speed.png",),
                     "C004-04": ("004_copilot_decoding.png", "004_copilot_samples.png")}
    figure_captions = CAPTIONS
    Config = CopilotConfig
    quick = {"train.steps": 120, "checkpoints": (SEED_STEPS, 120), "train_chars": 300_000, "val_chars": 12_000,
             "test_chars": 50_000, "n_lines": 12, "bench_repeats": 5}

    def cells(self, cfg):
        return [Cell("copilot", {})]

    def run_cell(self, cell, seed, ctx):
        set_blas_threads(1)  # as the bench: a second BLAS thread only waits at these sizes, very long on a busy CPU
        cfg = ctx.cfg
        summary, tok, train_ids, val_ids, lines = copilot_data(
            cfg.corpus_root, cfg.train_chars, cfg.val_chars, cfg.test_chars, cfg.min_char_count, cfg.n_lines)
        model = GPT(BENCH_CONFIGS["copilot"][0].replace(vocab_size=tok.vocab_size), seed=seed)
        val = TokenWindows(val_ids, CONTEXT)
        checkpoints, eval_seconds = [], 0.0

        def checkpoint(step: int, m: GPT, record: dict) -> None:
            nonlocal eval_seconds
            ctx.progress(step, cfg.train.steps)
            if step not in cfg.checkpoints:
                return
            start = time.perf_counter()
            folder = save_checkpoint(m, tok, ctx.work_dir / f"step{step}")
            m.eval()
            result = evaluate(m, val, cfg.train.batch_size)
            metrics, samples = decode_all(m, tok, lines, cfg.demo_tokens, seed)
            m.train()
            checkpoints.append({"step": step, "folder": str(folder), "val_loss": result["loss"],
                                "val_bits_per_char": result["bits_per_token"], "decoding": metrics, "samples": samples})
            eval_seconds += time.perf_counter() - start

        train = cfg.train.replace(eval_every=math.gcd(*cfg.checkpoints), seed=seed)
        history = fit(model, TokenWindows(train_ids, CONTEXT), train, callbacks=[checkpoint])
        save_checkpoint(model, tok, ctx.model_dir)
        last = checkpoints[-1] if checkpoints else None  # None: diverged before the first checkpoint
        return {
            "corpus": summary, "vocab_size": tok.vocab_size, "parameters": model.num_parameters(),
            "loss_initial": history.steps[0]["loss"],  # step 1, before any update: the seed's "initial loss"
            "loss_curve": [[r["step"], r["loss"]] for r in history.steps],
            "diverged": history.diverged_at is not None, "diverged_at": history.diverged_at,
            "val_bits_per_char_final": last["val_bits_per_char"] if last else None,
            "exact_greedy_final": last["decoding"]["greedy"]["exact"] if last else None,
            "ms_per_step": 1e3 * (history.seconds - eval_seconds) / (history.diverged_at or cfg.train.steps),
            "seconds_training": history.seconds - eval_seconds, "seconds_checkpoints": eval_seconds,
            "checkpoints": checkpoints,
            "bench": bench_engine("copilot", repeats=cfg.bench_repeats, seed=seed),
        }

    def figures(self, results, fig_dir):
        return copilot_figures(results, fig_dir)

    def measure(self, results):
        return copilot_measurements(results)
