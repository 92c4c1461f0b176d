"""The models of the length-generalization study (study.py) and how they are scored.

Every model is a causal blocklab GPT; an encoding name is a GPTConfig.pos_encoding, or one
with "+randomized" (GPTConfig.pos_randomize_max: training positions are a sorted random
sample of 0..span-1, Ruoss et al. 2023; at test time positions are 0..T-1).
  sortedness, first-vs-last   the answer is read after the last real token
                              (studies.common.training.LastTokenClassifier)
  addition                    DigitGPT: the GPT writes the reversed sum; for 'abacus' and
                              'coupling' it is fed the task's digit indices
Shapes: B batch, T tokens, V vocabulary.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.nn import GPT, GPTConfig
from blocklab.nn.config import TASK_POSITIONS
from blocklab.tasks import long_addition
from blocklab.train import accuracy

from .config import LengthConfig

RANDOMIZED = "+randomized"


def base_encoding(name: str) -> str:
    return name.removesuffix(RANDOMIZED)


def gpt_config(encoding: str, vocab_size: int, width: int, layers: int, heads: int, max_len: int, span: int,
               offset_max: int = 0, scale_embeddings: bool = True) -> GPTConfig:
    """max_len covers the longest test input (learned rows past training stay untrained: that is
    the finding); span is the randomized range, used only by '+randomized' names."""
    base = base_encoding(encoding)
    return GPTConfig(vocab_size=vocab_size, d_model=width, n_layers=layers, n_heads=heads, d_ff=4 * width,
                     pos_encoding=base, max_len=max(max_len, span) if encoding.endswith(RANDOMIZED) else max_len,
                     pos_randomize_max=span if encoding.endswith(RANDOMIZED) else None,
                     pos_offset_max=offset_max if base in TASK_POSITIONS else 0,
                     t5_max_distance=max(max_len, 32), scale_embeddings=scale_embeddings)


class DigitGPT(nn.Module):
    """A GPT on addition lines (B, T) -> logits (B, T, V), computing Abacus or coupled digit
    indices from the tokens when its encoding reads them."""

    def __init__(self, gpt: GPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(self, lines: torch.Tensor) -> torch.Tensor:
        kind = self.gpt.cfg.pos_encoding
        pos = long_addition.positions(lines, kind) if kind in TASK_POSITIONS else None
        return self.gpt(lines, positions=pos)


def addition_model(encoding: str, cfg: LengthConfig) -> DigitGPT:
    """The addition model of a LengthConfig. Its table holds the longest test line, and so every digit
    index: at most (digits + 2) + the offset drawn while training."""
    longest = long_addition.line_length(max(cfg.addition_test_digits)) + cfg.addition_offset_max
    return DigitGPT(GPT(gpt_config(encoding, long_addition.VOCAB, cfg.addition_width, cfg.addition_layers, cfg.heads,
                                   longest, span=longest, offset_max=cfg.addition_offset_max,
                                   scale_embeddings=cfg.addition_scale_embeddings)))


def answer_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy on the answer digits only (teacher forced); for fit()."""
    (lines,) = batch
    logits = model(lines)[:, :-1]  # (B, T-1, V): each predicts the next token
    mask = long_addition.answer_mask(lines)  # (B, T-1)
    picked, target = logits[mask], lines[:, 1:][mask]  # (N, V), (N,)
    return F.cross_entropy(picked, target), {"acc": accuracy(picked, target)}


@torch.no_grad()
def greedy_answers(model: nn.Module, lines: torch.Tensor, d: int, batch: int = 100) -> torch.Tensor:
    """Greedy decoding of the d + 1 answer digits from each line's prompt.  (n, 3d+3) -> (n, d+1)"""
    model.eval()
    prompt_len = 2 * d + 2
    out = []
    for i in range(0, len(lines), batch):
        seq = lines[i: i + batch, :prompt_len]
        for _ in range(d + 1):
            nxt = model(seq)[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            seq = torch.cat([seq, nxt], dim=1)
        out.append(seq[:, prompt_len:])
    return torch.cat(out)


@torch.no_grad()
def class_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tokens_per_batch: int = 8192) -> float:
    """Accuracy (%) of a LastTokenClassifier on rows x (n, T)."""
    model.eval()
    step = max(1, tokens_per_batch // x.shape[1])
    pred = torch.cat([model(x[i: i + step]).argmax(-1) for i in range(0, len(x), step)])
    return 100.0 * (pred == y).float().mean().item()
