"""The pieces of the length-extrapolation study (study.py): the two tasks at
mixed lengths, the models that read them, randomized positions, and the probes run on a
trained model (accuracy by length, permutation gap, position tables and kernels).

Architectures, named in every result:
  gpt      a causal blocklab GPT read as a classifier: its next-token logits after the
           last real token, restricted to one answer token per class. The causal mask
           lets a position know which tokens came before it, so even pos_encoding="none"
           can compare a token with its prefix.
  encoder  a blocklab EncoderClassifier (no mask, mean pooling over real tokens). With
           pos_encoding="none" it is a function of the bag of tokens only.
Shapes: B batch, T positions, D model width, C classes.
"""
from __future__ import annotations

import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.nn import GPT, ClassifierConfig, EncoderClassifier, GPTConfig
from blocklab.nn.positional import PositionalEncoding
from blocklab.studies.common.training import LastTokenClassifier
from blocklab.tasks import TaskData
from blocklab.tasks.sequences import first_vs_last_mixed
from blocklab.tasks.sortedness import sortedness


# ---------------------------------------------------------------------------- tasks
def make_task(task: str, n: int, seed: int, lengths: tuple[int, ...], n_values: int) -> TaskData:
    """n rows of `task` at `lengths`, all in the "train" split; n_values is the alphabet size."""
    if task == "sortedness":
        return sortedness(n, 0, 0, seed=seed, lengths=lengths, n_values=n_values)
    return first_vs_last_mixed(n, seed, lengths, n_values)


def pad_id(task: str, n_values: int) -> int:
    return n_values if task == "sortedness" else n_values + 2


# ---------------------------------------------------------------------------- models
class RandomizedPositions(PositionalEncoding):
    """Randomized positions (Ruoss et al. 2023): every forward pass replaces positions
    0..T-1 by a sorted random sample of T distinct positions from 0..span-1, in training and
    in evaluation, so positions up to `span` are seen while training on short inputs.

    blocklab's models compute positions themselves (arange), so this wraps the model's
    encoding and remaps them; each encoding answers one of the three questions per pass
    (embed, bias or rotary), so one sample per call is one sample per pass."""

    def __init__(self, inner: PositionalEncoding, span: int) -> None:
        super().__init__()
        self.inner, self.span = inner, span

    def _remap(self, pos: torch.Tensor) -> torch.Tensor:
        n = int(pos.max()) + 1
        if n > self.span:
            raise BlocklabError(f"randomized positions: length {n} exceeds the sampling span {self.span}")
        sample = torch.randperm(self.span, device=pos.device)[:n].sort().values  # (n,) increasing
        return sample[pos]

    def embed(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return self.inner.embed(x, self._remap(pos))

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor | None:
        sample = self._remap(torch.cat([q_pos, k_pos]))  # one sample shared by queries and keys
        return self.inner.bias(sample[: len(q_pos)], sample[len(q_pos):])

    def rotary(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        return self.inner.rotary(self._remap(pos))


def build_model(arch: str, encoding: str, task: TaskData, pad: int, max_len: int, width: int, layers: int,
                heads: int, overflow: str = "clamp", span: int = 0, scale_embeddings: bool = True) -> nn.Module:
    """arch "gpt" or "encoder" (see the module docstring); span > 0 randomizes positions."""
    common = dict(d_model=width, n_heads=heads, d_ff=4 * width, n_layers=layers, pos_encoding=encoding,
                  max_len=span or max_len, learned_overflow=overflow, scale_embeddings=scale_embeddings)
    if arch == "encoder":
        return EncoderClassifier(ClassifierConfig(vocab_size=task.vocab_size, n_classes=task.n_classes, pad_id=pad,
                                                  pooling="mean", **common))
    gpt = GPT(GPTConfig(vocab_size=task.vocab_size + task.n_classes, **common))
    if span:
        gpt.embed.pos = RandomizedPositions(gpt.embed.pos, span)
    return LastTokenClassifier(gpt, pad, task.n_classes)


def positional(model: nn.Module) -> PositionalEncoding:
    inner = model.gpt if isinstance(model, LastTokenClassifier) else model
    pos = inner.embed.pos
    return pos.inner if isinstance(pos, RandomizedPositions) else pos


# ---------------------------------------------------------------------------- probes
@torch.no_grad()
def evaluate_length(model: nn.Module, task: TaskData, tokens_per_batch: int = 4096, n_mistakes: int = 3) -> dict:
    """Accuracy (%) on the task's rows; for sortedness also on each negative kind and on positives."""
    x, y = task.splits["train"][:2]
    model.eval()
    batch = max(1, tokens_per_batch // x.shape[1])  # long inputs: few rows at a time
    pred = torch.cat([model(x[i: i + batch]).argmax(-1) for i in range(0, len(x), batch)])
    out = {"acc": 100.0 * (pred == y).float().mean().item(), "mistakes": task.mistakes("train", pred, n_mistakes)}
    if task.name == "sortedness":
        kinds = task.splits["train"][3]
        names = ("sorted", "adjacent_swap", "far_swap", "moved")
        out["by_kind"] = {names[k]: 100.0 * (pred[kinds == k] == y[kinds == k]).float().mean().item()
                          for k in range(len(names)) if (kinds == k).any()}
    return out


@torch.no_grad()
def permutation_gap(model: nn.Module, x: torch.Tensor, seed: int) -> float:
    """Largest |logit change| when the tokens of each (unpadded) row are shuffled: 0 for a
    model that sees only the bag of tokens."""
    model.eval()
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(seed))
    return (model(x) - model(x[:, perm])).abs().max().item()


def structure_score(table: torch.Tensor) -> float:
    """Mean cosine similarity of neighbouring rows after removing the mean row.  (P, D) -> float

    A table of independent noise scores about -1/(P-1) (centering makes rows slightly
    anti-correlated); a table that varies smoothly with position scores near 1."""
    centered = table - table.mean(dim=0, keepdim=True)
    unit = centered / centered.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return (unit[1:] * unit[:-1]).sum(dim=1).mean().item()


def cosine_matrix(vectors: torch.Tensor) -> torch.Tensor:
    """(P, D) -> (P, P) cosine similarities."""
    unit = vectors / vectors.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return unit @ unit.T


@torch.no_grad()
def position_kernel(model: nn.Module, n: int) -> torch.Tensor:
    """How alike positions 0..n-1 are to the model's encoding.  -> (n, n)

    sinusoidal, learned: cosine similarity of the vectors added at each position (learned
    past its table under the model's overflow policy, so a clamped tail is one block);
    RoPE: the mean over frequencies of cos((i - j) * theta), the factor by which rotation
    scales the score of a query and key with the same content; ALiBi: exp(bias) averaged
    over heads, the factor by which the bias scales attention weights; none: all ones, as
    no position is told apart from another."""
    pe, pos = positional(model), torch.arange(n)
    zeros = torch.zeros(1, n, _width(model))
    if pe.rotary(pos) is not None:
        cos, sin = pe.rotary(pos)  # (n, Dh) each; cos(a)cos(b) + sin(a)sin(b) = cos(a - b)
        return (cos @ cos.T + sin @ sin.T).float() / cos.shape[1]
    bias = pe.bias(pos, pos)
    if bias is not None:
        return bias.exp().mean(dim=0)
    added = pe.embed(zeros, pos)[0]  # (n, D)
    if not added.abs().sum():
        return torch.ones(n, n)
    return cosine_matrix(added)


def _width(model: nn.Module) -> int:
    inner = model.gpt if isinstance(model, LastTokenClassifier) else model
    return inner.cfg.d_model


@torch.no_grad()
def first_layer_attention(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean attention pattern of block 0 over rows and heads on inputs x (B, T).  -> (T, T)"""
    inner = model.gpt if isinstance(model, LastTokenClassifier) else model
    model.eval()
    _, cache = inner.run_with_cache(x, names=["blocks.0.attn.hook_pattern"])
    return cache["blocks.0.attn.hook_pattern"].mean(dim=(0, 1))  # (B, H, T, T) -> (T, T)


def rounded(t: torch.Tensor, digits: int = 4) -> list:
    """A tensor as nested lists of rounded floats, for results.json."""
    return torch.round(t.float(), decimals=digits).tolist()

