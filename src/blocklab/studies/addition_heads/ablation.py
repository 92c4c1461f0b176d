"""Head ablation, pruning and attention probes on the trained encoder-decoder.

The 24 heads are named as in the seed: `encoder_1_self_head_3` is head 3 of the self-attention
of encoder block 1; `decoder_0_cross_head_2` is head 2 of decoder block 0's cross-attention.
A head is ablated on the model itself, never a copy:
  zero  the head's output before the output projection is set to 0, by the attention's
        `head_mask` (MultiHeadAttention multiplies each head's output by it)
  mean  that output is replaced, by a hook on `hook_z`, by its mean over the validation
        problems at the same position: the head keeps its average message and loses what
        depends on the problem.
Scores are greedy exact match, computed by one teacher-forced pass: a problem counts as
solved when every answer digit is the argmax given the true prefix, which is exactly when
greedy decoding writes the right answer (see model.py).
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.nn.models.seq2seq import Seq2SeqTransformer
from blocklab.tasks.addition import ANSWER_LEN
from blocklab.train import evaluating

from .model import answer_logits, percent, predict

METHODS = ("zero", "mean")
Head = tuple[str, int]  # (module path, head index)


def modules(model: Seq2SeqTransformer) -> dict[str, str]:
    """Seed-style label -> module path, encoder self, decoder self, then cross-attention."""
    enc, dec = model.cfg.n_encoder_layers, model.cfg.n_decoder_layers
    labels = [f"encoder_{i}_self" for i in range(enc)] + [f"decoder_{i}_self" for i in range(dec)]
    return {label: module_path(label) for label in labels + [f"decoder_{i}_cross" for i in range(dec)]}


def module_path(label: str) -> str:
    """'encoder_1_self' -> 'encoder.blocks.1.attn'; 'decoder_0_cross' -> 'decoder.blocks.0.cross_attn'."""
    stack, index, kind = label.split("_")
    return f"{stack}.blocks.{index}.{'cross_attn' if kind == 'cross' else 'attn'}"


def heads(model: Seq2SeqTransformer) -> dict[str, Head]:
    """Seed-style head name -> (module path, head index), 24 for the seed's architecture."""
    return {f"{label}_head_{h}": (path, h) for label, path in modules(model).items() for h in range(model.cfg.n_heads)}


@torch.no_grad()
def head_means(model: Seq2SeqTransformer, split: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Module path -> mean of hook_z over the split's problems, (T, H, Dh), teacher-forced."""
    names = [f"{path}.hook_z" for path in modules(model).values()]
    with evaluating(model):
        _, cache = model.run_with_cache(split[0], split[2], names=names)
    return {name.removesuffix(".hook_z"): z.mean(dim=0) for name, z in cache.items()}


def _replace_with_mean(hs: list[int], mean: torch.Tensor):
    def hook(z: torch.Tensor, point) -> torch.Tensor:  # z (B, T, H, Dh)
        if z.shape[1] != mean.shape[0]:
            raise BlocklabError(f"mean ablation at {point.name} has means for {mean.shape[0]} positions but got "
                                f"{z.shape[1]}; score it with a full teacher-forced pass, not step by step")
        z = z.clone()
        z[:, :, hs] = mean[None, :, hs]
        return z

    return hook


@contextlib.contextmanager
def ablated(model: Seq2SeqTransformer, chosen: Sequence[Head], method: str = "zero",
            means: dict[str, torch.Tensor] | None = None) -> Iterator[None]:
    """Within the block, the heads `chosen` are ablated by `method`; the model is restored after."""
    if method not in METHODS:
        raise BlocklabError(f"ablation method {method!r} is not valid; choose one of: {', '.join(METHODS)}")
    by_module: dict[str, list[int]] = {}
    for path, h in chosen:
        by_module.setdefault(path, []).append(h)
    if method == "mean":
        if means is None:
            raise BlocklabError("mean ablation needs the heads' means (head_means on the validation split)")
        with model.hooks([(f"{p}.hook_z", _replace_with_mean(hs, means[p])) for p, hs in by_module.items()]):
            yield
        return
    masks = {p: model.get_submodule(p).head_mask for p in by_module}
    saved = {p: m.clone() for p, m in masks.items()}
    try:
        for p, hs in by_module.items():
            masks[p][hs] = 0.0
        yield
    finally:
        for p, m in masks.items():
            m.copy_(saved[p])


def solved(model: nn.Module, split: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(n,) bool: greedy decoding writes the right answer (all teacher-forced argmaxes right)."""
    pred = predict(model, split, lambda m, b: answer_logits(m, b).argmax(-1))
    return (pred == split[1]).all(dim=1)


def scores(model: nn.Module, split: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """Greedy exact match (%) overall, on problems with carries and on problems without."""
    ok, carries = solved(model, split), split[3]
    return {"em": percent(ok), "em_carry": percent(ok[carries > 0]), "em_no_carry": percent(ok[carries == 0])}


def single_heads(model: Seq2SeqTransformer, split, method: str, means=None) -> dict[str, dict[str, float]]:
    """Head name -> scores with that head alone ablated."""
    out = {}
    for name, head in heads(model).items():
        with ablated(model, [head], method, means):
            out[name] = scores(model, split)
    return out


def greedy_pruning(model: Seq2SeqTransformer, select: tuple[torch.Tensor, ...],
                   report: tuple[torch.Tensor, ...]) -> list[dict]:
    """Remove heads one at a time (zero ablation), each time the one whose removal, together with
    those already removed, keeps the most problems solved on `select`; after each removal the
    jointly pruned model is scored on `report`. Returns one record per number of heads removed."""
    named = heads(model)
    removed: list[str] = []
    steps = [{"removed": 0, "head": None, "select_em": percent(solved(model, select)), **scores(model, report)}]
    while len(removed) < len(named):
        best, best_em = None, -1.0
        for name in named:
            if name in removed:
                continue
            with ablated(model, [named[n] for n in (*removed, name)]):
                em = percent(solved(model, select))
            if em > best_em:
                best, best_em = name, em
        removed.append(best)
        with ablated(model, [named[n] for n in removed]):
            steps.append({"removed": len(removed), "head": best, "select_em": best_em, **scores(model, report)})
    return steps


# ---------------------------------------------------------------------------- attention probes
def column_of_answer(order: str) -> list[int]:
    """Column (0 units .. 3 thousands) of each answer position."""
    return list(range(ANSWER_LEN)) if order == "reversed" else list(range(ANSWER_LEN - 1, -1, -1))


def input_positions(col: int) -> list[int]:
    """Source positions of column col's digits in `a2 a1 a0 + b2 b1 b0`; none for thousands."""
    return [2 - col, 6 - col] if col <= 2 else []


@torch.no_grad()
def patterns(model: Seq2SeqTransformer, src: torch.Tensor, dec_in: torch.Tensor) -> dict[str, torch.Tensor]:
    """Seed-style module label -> attention weights (B, H, T, S), teacher-forced."""
    labels = modules(model)
    with evaluating(model):
        _, cache = model.run_with_cache(src, dec_in, names=[f"{p}.hook_pattern" for p in labels.values()])
    return {label: cache[f"{path}.hook_pattern"] for label, path in labels.items()}


def alignment(label: str, pattern: torch.Tensor, order: str) -> tuple[list[float], float] | None:
    """Per head, the mean attention on the positions a column-wise adder would read, and what
    uniform attention would give; None where no such target exists.

    cross     answer digit of column c -> the two input digits of column c (c = 0..2)
    encoder   an input digit of column c -> the two input digits of column c
    decoder   (reversed order only) answer digit of column c -> the decoder input holding
              column c-1, the digit just written, whose carry column c needs
    """
    B, H, T, S = pattern.shape
    pairs: list[tuple[int, list[int]]] = []  # (query position, target key positions)
    if "cross" in label:
        pairs = [(t, input_positions(c)) for t, c in enumerate(column_of_answer(order)) if c <= 2]
    elif label.startswith("encoder"):
        pairs = [(p, input_positions(2 - p if p < 3 else 6 - p)) for p in range(S) if p != 3]
    elif order == "reversed":
        pairs = [(t, [t]) for t in range(1, T)]  # decoder input t holds answer digit t-1 = column t-1
    if not pairs:
        return None
    per_head = torch.stack([pattern[:, :, q, keys].sum(-1) for q, keys in pairs], dim=-1)  # (B, H, queries)
    visible = [S if "cross" in label or label.startswith("encoder") else q + 1 for q, _ in pairs]
    chance = sum(len(keys) / n for (_, keys), n in zip(pairs, visible)) / len(pairs)
    return per_head.mean(dim=(0, 2)).tolist(), chance
