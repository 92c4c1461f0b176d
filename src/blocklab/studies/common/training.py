"""Pieces several studies share: loss functions, a vector network from blocklab blocks,
and evaluation that reports accuracy together with the first mistakes."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.nn import BlockConfig, Context, Stack
from blocklab.tasks import TaskData
from blocklab.train import accuracy, evaluating
from blocklab.train.lm import next_token_loss as next_token  # noqa: F401  (the studies' is train_lm's)


def classify(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy on (inputs, labels); for fit()."""
    x, y = batch[:2]
    logits = model(x)
    return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}


def regress(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Mean squared error on (inputs, targets); for fit()."""
    x, y = batch[:2]
    return F.mse_loss(model(x), y), {}


class LastTokenClassifier(nn.Module):
    """A GPT answering with a token: (B, T) right-padded -> (B, C) logits of the answer
    tokens (ids vocab_size - C .. vocab_size - 1, never inputs) after the last real token.
    The causal mask keeps the padding after it invisible."""

    def __init__(self, gpt: nn.Module, pad: int, n_classes: int) -> None:
        super().__init__()
        self.gpt, self.pad, self.n_classes = gpt, pad, n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.gpt(x)  # (B, T, V)
        last = (x != self.pad).sum(dim=1) - 1  # (B,) index of each row's last real token
        return logits[torch.arange(len(x)), last, -self.n_classes:]  # (B, C)


class VectorNet(nn.Module):
    """A deep network on plain vectors made of blocklab blocks with no mixer: each block is
    Residual(FFN), so residual / norm / depth ablations are the same config fields as in a
    Transformer. (B, d_in) -> (B, d_out)."""

    def __init__(self, cfg: BlockConfig, d_in: int, d_out: int, depth: int) -> None:
        super().__init__()
        if cfg.mixer != "none":
            cfg = cfg.replace(mixer="none", pos_encoding="none")
        self.inp = nn.Linear(d_in, cfg.d_model)
        self.stack = Stack(cfg, depth)
        self.out = nn.Linear(cfg.d_model, d_out)
        for m in self.modules():  # same init policy as the Transformer models
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=cfg.init_std)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)[:, None, :]  # (B, 1, D): one position per example
        h = self.stack(h, Context(pos=torch.zeros(1, dtype=torch.long, device=x.device)))
        return self.out(h[:, 0])


@torch.no_grad()
def predictions(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Argmax class for each row of x, in eval mode (mode restored afterwards)."""
    device = next(model.parameters()).device
    with evaluating(model):
        return torch.cat([model(x[i : i + batch_size].to(device)).argmax(-1).cpu()
                          for i in range(0, len(x), batch_size)])


def accuracy_and_mistakes(model: nn.Module, task: TaskData, split: str = "test", limit: int = 5) -> dict:
    """{"acc": percent, "mistakes": ["input: model says P, truth T", ...]} on one split."""
    x, y = task.splits[split][:2]
    pred = predictions(model, x)
    return {"acc": 100.0 * (pred == y).float().mean().item(), "mistakes": task.mistakes(split, pred, limit)}


@torch.no_grad()
def eval_cache(model, inputs, names, fwd_hooks=()):
    """Logits and cached activations (on the CPU) of one eval-mode pass; inputs is a tensor or a
    tuple of them; the model's mode is restored."""
    device = next(model.parameters()).device
    inputs = [t.to(device) for t in (inputs if isinstance(inputs, tuple) else (inputs,))]
    with evaluating(model), model.hooks(fwd_hooks):
        logits, cache = model.run_with_cache(*inputs, names=names)
    return logits.cpu(), {k: v.cpu() for k, v in cache.items()}
