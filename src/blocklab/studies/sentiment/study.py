"""Sentiment of movie-review snippets: a Transformer encoder against a bag-of-words baseline.

Data: the rotten-tomatoes dataset (`blocklab data fetch rotten-tomatoes`): 12,808 labelled
snippets, 12,752 distinct (data/rotten_tomatoes.py), 57.8% fresh. One split for every cell
and run seed, drawn with `split_seed`: 80% train, 10% validation, 10% test. Words: a
WordTokenizer fitted on the training split only (words seen >= min_count times; others are
<unk>), each snippet cut or padded to max_len ids.

Cells, all trained by blocklab.train.fit on the same tensors and scored on the same test split:
- bow-logreg: logistic regression on which vocabulary words a snippet contains (binary
  bag of words), AdamW with weight decay as its L2 penalty;
- transformer: EncoderClassifier (pre-norm, sinusoidal positions, token embeddings scaled by
  sqrt(d_model) as in the paper, mean pooling over non-pad tokens), tuned on the validation
  split only (the config's defaults; the tuning runs are listed in the issue's closing note);
- transformer-unscaled: the same without the sqrt(d_model) scale (C003-04).

Each run also records test accuracy after int8 dynamic quantization (train.quantize_int8),
the RMS of the token and position parts of the embedding at init and after training, and
its first test mistakes. Seeds change the initialisation and batch order, never the split.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.config import Config, PositiveInt, ProperFraction, Seed
from blocklab.data import WordTokenizer, load_rotten_tomatoes
from blocklab.data.words import PAD_ID
from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import ClassifierConfig, EncoderClassifier
from blocklab.nn.config import POS_ENCODINGS
from blocklab.studies.common.training import accuracy_and_mistakes
from blocklab.tasks import TaskData
from blocklab.train import TrainConfig, accuracy, compare_int8, evaluating, fit

from .analysis import sentiment_figures, sentiment_measurements


@dataclass
class SentimentConfig(Config):
    data_dir: str = ""  # the dataset cache; "": $BLOCKLAB_DATA, else ~/.cache/blocklab
    split_seed: Seed = 0
    val_fraction: ProperFraction = 0.1
    test_fraction: ProperFraction = 0.1
    min_count: PositiveInt = 2
    max_len: PositiveInt = 64  # words; the longest snippet has 53 words and punctuation marks add a few
    # the Transformer: one seed at lr 1e-3 peaked at 750 of 1500 constant-lr steps, then overfitted
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1000, lr=1e-3, schedule="cosine", warmup_steps=100, weight_decay=0.1, batch_size=64, eval_every=250,
        log_every=None))
    d_model: PositiveInt = 64
    n_heads: PositiveInt = 4
    n_layers: PositiveInt = 2
    d_ff: PositiveInt = 128
    dropout: ProperFraction = 0.1  # 0.1 beat 0.3 on validation (75.5% vs 74.7% after 1500 steps, one seed)
    attn_dropout: ProperFraction = 0.0  # on attention weights; dropout there costs a third of the step on a CPU
    pos_encoding: Literal[POS_ENCODINGS] = "sinusoidal"
    # the bag-of-words baseline
    bow_train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=3000, lr=1e-2, weight_decay=0.3, batch_size=64, eval_every=250, log_every=None))


class BagOfWords(nn.Module):
    """tokens (B, T) -> logits (B, C): a linear map of which words occur (0/1), <pad> left out."""

    def __init__(self, vocab_size: int, n_classes: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.linear = nn.Linear(vocab_size, n_classes)
        nn.init.zeros_(self.linear.weight)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        present = torch.zeros(idx.shape[0], self.vocab_size, device=idx.device)  # (B, V)
        present.scatter_(1, idx, 1.0)
        present[:, PAD_ID] = 0.0
        return self.linear(present)  # (B, C)


def classify_trimmed(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy on (tokens, labels) with the batch's all-padding columns cut off first:
    padding is masked out of attention and pooling, so the logits are the same, only cheaper."""
    x, y = batch[:2]
    width = int((x != PAD_ID).sum(1).max().clamp(min=1))
    logits = model(x[:, :width])
    return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}


@functools.lru_cache(maxsize=2)
def sentiment_data(data_dir: str, split_seed: int, val_fraction: float, test_fraction: float, min_count: int,
                   max_len: int) -> tuple[TaskData, WordTokenizer, dict]:
    """(task, tokenizer, summary): the same for every cell and seed, so built once per process."""
    reviews, counts = load_rotten_tomatoes(Path(data_dir) if data_dir else None)
    parts = reviews.split({"train": 1 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction},
                          split_seed)
    tok = WordTokenizer.fit(parts["train"].texts, min_count=min_count)
    splits = {name: (tok.encode_batch(p.texts, max_len), torch.tensor(p.labels)) for name, p in parts.items()}
    lengths = [len(tok.encode(t)) for t in reviews.texts]
    test = parts["test"]
    summary = {**counts, "fresh_share": 100 * reviews.counts()["fresh"] / len(reviews),
               **{f"{name}_size": len(p) for name, p in parts.items()}, "vocab_size": tok.vocab_size,
               "test_unknown_rate": 100 * tok.unknown_rate(test.texts), "truncated": sum(n > max_len for n in lengths),
               "majority_test_acc": 100 * max(test.counts().values()) / len(test)}
    encoding = (f"tokens: word ids of a review snippet (WordTokenizer, {tok.vocab_size} ids, <pad> = {PAD_ID}), "
                f"cut or padded to {max_len}; label: 0 rotten, 1 fresh")
    task = TaskData("rotten-tomatoes", splits, tok.vocab_size, 2, encoding, render=lambda x: repr(tok.decode(x)))
    return task, tok, summary


def build_model(cell: Cell, cfg: SentimentConfig, vocab_size: int) -> nn.Module:
    if cell.params["model"] == "bow":
        return BagOfWords(vocab_size, 2)
    return EncoderClassifier(ClassifierConfig(
        vocab_size=vocab_size, d_model=cfg.d_model, n_heads=cfg.n_heads, n_layers=cfg.n_layers, d_ff=cfg.d_ff,
        max_len=cfg.max_len, dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, pos_encoding=cfg.pos_encoding,
        pad_id=PAD_ID, pooling="mean", scale_embeddings=cell.params["scale_embeddings"]))


@torch.no_grad()
def embedding_rms(model: nn.Module, x: torch.Tensor) -> dict | None:
    """RMS of the token part and of the position part of the embedding over the non-pad tokens of x
    (the hooks give tokens and tokens + positions); None for a model without an Embedder."""
    if not isinstance(model, EncoderClassifier):
        return None
    with evaluating(model):
        _, cache = model.run_with_cache(x, names=["embed.hook_embed", "embed.hook_pos_embed"])
    keep = x != PAD_ID  # (N, T)
    tok, both = cache["embed.hook_embed"][keep], cache["embed.hook_pos_embed"][keep]  # (n, D)
    token, position = tok.pow(2).mean().sqrt().item(), (both - tok).pow(2).mean().sqrt().item()
    return {"token": token, "position": position, "ratio": token / position}


@register
class Sentiment(Study):
    name = "sentiment"
    description = "003/issue 8: Rotten Tomatoes snippets, EncoderClassifier vs bag-of-words logistic regression"
    claims = ("C003-03", "C003-04")
    claim_figures = {"C003-03": ("sentiment_accuracy.png", "sentiment_training.png"),
                     "C003-04": ("sentiment_embedding_scale.png",)}
    Config = SentimentConfig
    quick = {"train.steps": 150, "train.eval_every": 50, "train.warmup_steps": 15, "bow_train.steps": 300,
             "bow_train.eval_every": 50}

    def cells(self, cfg):
        return [Cell("bow-logreg", {"model": "bow"}),
                Cell("transformer", {"model": "transformer", "scale_embeddings": True}),
                Cell("transformer-unscaled", {"model": "transformer", "scale_embeddings": False})]

    def run_cell(self, cell, seed, ctx):
        cfg = ctx.cfg
        start, cpu_start = time.perf_counter(), time.process_time()
        task, tok, summary = sentiment_data(cfg.data_dir, cfg.split_seed, cfg.val_fraction, cfg.test_fraction,
                                            cfg.min_count, cfg.max_len)
        model = build_model(cell, cfg, tok.vocab_size)
        probe = task.splits["val"][0][:512]
        rms_init = embedding_rms(model, probe)
        bow = cell.params["model"] == "bow"
        train = (cfg.bow_train if bow else cfg.train).replace(seed=seed, device=ctx.device)
        data = {k: task.splits[k] for k in ("train", "val")}
        result = fit(model, data, classify_trimmed, train, run_dir=ctx.work_dir, progress=ctx.progress)
        if not bow:  # the bag-of-words baseline is no blocklab.nn model
            model.save(ctx.model_dir, tokenizer=tok)
        model.cpu()
        test = accuracy_and_mistakes(model, task, "test")
        int8 = compare_int8(model, task.splits["test"], classify_trimmed)
        val_acc = result.final.get("val_acc")  # None when the run diverged: `final` is then the bad step
        return {
            "test_acc": test["acc"], "val_acc": None if val_acc is None else 100 * val_acc,
            "mistakes": test["mistakes"],
            "int8_test_acc": 100 * int8["int8"]["acc"], "int8_change": 100 * int8["change"]["acc"],
            "int8_size_ratio": int8["size_ratio"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "embedding_rms": {"init": rms_init, "trained": embedding_rms(model, probe)} if rms_init else {},
            "data": summary, "cpu_seconds": time.process_time() - cpu_start,
            "wall_seconds": time.perf_counter() - start,
            "load_average": os.getloadavg()[0], **result.to_dict(),
        }

    def figures(self, results, fig_dir):
        return sentiment_figures(results, fig_dir)

    def measure(self, results):
        return sentiment_measurements(results)
