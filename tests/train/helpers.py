"""Tiny models, data and loss functions: tens of steps of training take well under a second."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.nn import GPT, GPTConfig
from blocklab.train import TrainConfig, accuracy

VOCAB, T = 11, 8


def tiny_gpt(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    cfg = {"vocab_size": VOCAB, "d_model": 16, "n_heads": 2, "d_ff": 32, "n_layers": 2, "max_len": 16, **changes}
    return GPT(GPTConfig(**cfg))


def lm_data(n_train: int = 80, n_val: int = 24) -> dict[str, tuple[torch.Tensor, ...]]:
    """Sequences that count up mod VOCAB from a random start: learnable, so losses move."""
    g = torch.Generator().manual_seed(123)
    start = torch.randint(0, VOCAB, (n_train + n_val, 1), generator=g)
    seqs = (start + torch.arange(T + 1)) % VOCAB  # (N, T + 1)
    return {"train": (seqs[:n_train],), "val": (seqs[n_train:],)}


def lm_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]):
    (seqs,) = batch
    logits = model(seqs[:, :-1])  # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), seqs[:, 1:].reshape(-1))
    return loss, {"acc": accuracy(logits, seqs[:, 1:])}


def quick_cfg(**changes) -> TrainConfig:
    base = {"steps": 20, "batch_size": 12, "eval_every": 10, "log_every": 5, "lr": 3e-3}
    return TrainConfig(**{**base, **changes})


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"
