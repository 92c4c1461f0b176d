"""The seed-001 model: a 2-block causal Transformer that reads `Op ( a , b , c )` and answers
with the logits at the last position, plus training, saving and loading.

The architecture is the seed's hyperparameter table: 2 blocks, d_model 64, 4 heads, FFN 256,
dropout 0.1 (on embeddings, attention weights, FFN hidden units and sublayer outputs),
vocabulary 20, max_len 50, fixed sinusoidal positions ("Standard sinusoidal (these are
fixed, not random)" in the seed), pre-LayerNorm blocks with GELU, and an output layer of its
own, W_output (64 x 20) and b_output (20), not tied to the embedding: the seed tracks
b_output's rows. Every ablation is a GPTConfig field passed to `model_config`.

Token embeddings are multiplied by sqrt(64) = 8 (scale_embeddings, as in Vaswani et al.). The
seed's initial embeddings have entries of magnitude ~0.1 ('Max' = [0.023, -0.145, 0.089, ...])
while its attention weights are N(0, 0.02); blocklab initialises every weight at N(0, 0.02),
so without the scale the token vectors (std 0.02) would be drowned by the sinusoidal table
(entries up to 1). With it they start at std 0.16. It adds no parameter; the study's
`ablate-no-embed-scale` cell measures the model without it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.io import atomic_write_bytes, atomic_write_text
from blocklab.lab.registry import CellContext
from blocklab.nn import GPT, GPTConfig
from blocklab.tasks.base import SPLITS, TaskData
from blocklab.train import TrainConfig, TrainResult, accuracy, fit
from blocklab.train.checkpoint import load_model_tensors, model_tensors
from blocklab.train.trainer import Callback

WEIGHTS, CONFIG = "model.safetensors", "config.json"

SEED_MODEL = dict(vocab_size=20, d_model=64, n_heads=4, d_ff=256, n_layers=2, dropout=0.1, max_len=50,
                  pos_encoding="sinusoidal", tie_weights=False, scale_embeddings=True)


def model_config(**changes: Any) -> GPTConfig:
    """The seed's architecture with some fields changed (unknown fields are a ConfigError)."""
    return GPTConfig(**SEED_MODEL).replace(**changes)


def build_model(cfg: GPTConfig) -> GPT:
    """A GPT whose untied output layer has a bias (b_output), initialised as blocklab initialises
    every Linear: N(0, init_std) weights, zero bias. A tied head stays bias-free."""
    model = GPT(cfg)
    if not cfg.tie_weights:
        model.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=True)
        nn.init.normal_(model.lm_head.weight, std=cfg.init_std)
        nn.init.zeros_(model.lm_head.bias)
    return model


def logits_for(model: GPT, x: torch.Tensor) -> torch.Tensor:
    """(N, T) token ids -> (N, V) logits at the last position, where the answer is read."""
    if x.shape[1] > model.cfg.max_len:
        raise BlocklabError(f"an input of {x.shape[1]} tokens is longer than the model's max_len={model.cfg.max_len}")
    return model(x)[:, -1]


def answer_loss(model: GPT, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy of the last position's logits against the answer token; for fit()."""
    x, y = batch[:2]
    logits = logits_for(model, x)
    return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}


def train_model(task: TaskData, model: GPT, train_cfg: TrainConfig, ctx: CellContext | None = None,
                callbacks: Sequence[Callback] = (), splits: Sequence[str] = SPLITS, resume: bool = True) -> TrainResult:
    """fit() on the task's `splits` (fit evaluates val and test at the end if given) with `answer_loss`.
    With a ctx, progress goes to ctx.progress and, if `resume`, checkpoints to ctx.work_dir, so an
    interrupted cell resumes from its last checkpoint."""
    data = {s: task.splits[s] for s in splits if s in task.splits}
    return fit(model, data, answer_loss, train_cfg, run_dir=ctx.work_dir if ctx and resume else None,
               callbacks=callbacks, progress=ctx.progress if ctx else None)


def save_model(model: GPT, path: str | Path) -> Path:
    """Write `path`/model.safetensors and `path`/config.json (the GPTConfig), each atomically."""
    path = Path(path)
    atomic_write_bytes(path / WEIGHTS, save_tensors(model_tensors(model)))
    atomic_write_text(path / CONFIG, json.dumps(model.cfg.to_dict(), indent=1))
    return path


def load_model(path: str | Path) -> GPT:
    """The model `save_model` wrote to `path`, in eval mode."""
    path = Path(path)
    for name in (CONFIG, WEIGHTS):
        if not (path / name).is_file():
            raise BlocklabError(f"{path} holds no saved model: {path / name} is missing (a saved model folder "
                                f"holds {CONFIG} and {WEIGHTS}, e.g. RUN/work/baseline-seed/seed0/model)")
    try:
        cfg = GPTConfig.from_dict(json.loads((path / CONFIG).read_text(encoding="utf-8")))
        tensors = load_tensors((path / WEIGHTS).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, SafetensorError) as err:
        raise BlocklabError(f"the saved model in {path} is corrupt ({type(err).__name__}: {err})") from None
    model = build_model(cfg)
    load_model_tensors(model, tensors, path / WEIGHTS)
    return model.eval()
