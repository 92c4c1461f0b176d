"""The sequence-reversal run studies 47 and 48 share: a 1+1-layer Seq2SeqTransformer on
tasks.reverse, with its attention patterns."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.nn import Seq2SeqConfig, Seq2SeqTransformer
from blocklab.tasks import reverse
from blocklab.train import TrainConfig, accuracy, fit

from .training import eval_cache

REVERSE_PATTERNS = {"encoder_self": "encoder.blocks.0.attn.hook_pattern",
                    "decoder_self": "decoder.blocks.0.attn.hook_pattern",
                    "cross": "decoder.blocks.0.cross_attn.hook_pattern"}


def teacher_forced(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy of each target token given the source and the target before it; for fit()."""
    src, tgt, dec_in = batch[:3]
    logits = model(src, dec_in)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten()), {"acc": accuracy(logits, tgt)}


def reverse_training(steps: int, lr: float) -> TrainConfig:
    """The reversal run's trainer settings: batch 64, ten evaluations, no per-step records."""
    return TrainConfig(steps=steps, lr=lr, batch_size=64, eval_every=max(steps // 10, 1), log_every=None)


def train_reverse(ctx, seed: int, train: TrainConfig) -> dict:
    """A 1+1-layer Seq2SeqTransformer trained on tasks.reverse with `train` (see reverse_training):
    its history, exact-sequence accuracy under greedy decoding, first mistakes, and each attention
    pattern (L, L) averaged over the test split and the heads."""
    task = reverse(2000, 200, 500, seed)
    model = Seq2SeqTransformer(Seq2SeqConfig(
        vocab_size=task.vocab_size, d_model=32, n_heads=2, d_ff=64, n_encoder_layers=1, n_decoder_layers=1,
        max_len=16, scale_embeddings=True))  # scaled as in the paper: the sinusoids would drown 0.02-std tokens
    train = train.replace(seed=seed, device=ctx.device)
    result = fit(model, task.splits, teacher_forced, train, run_dir=ctx.work_dir, progress=ctx.progress)
    model.save(ctx.model_dir)
    src, tgt, dec_in = task.splits["test"]
    _, cache = eval_cache(model, (src, dec_in), list(REVERSE_PATTERNS.values()))
    device = next(model.parameters()).device
    pred = model.greedy_decode(src.to(device), bos_id=task.vocab_size - 1, max_len=tgt.shape[1]).cpu()  # BOS: last id
    return {"seq_acc": 100.0 * (pred == tgt).all(1).float().mean().item(), "mistakes": task.mistakes("test", pred),
            "patterns": {k: cache[name].mean((0, 1)) for k, name in REVERSE_PATTERNS.items()}, **result.to_dict()}
