"""Shared test helpers: tiny models, weight copying from torch references, gradient comparison.

Comparisons run in float64 and eval mode, so a tolerance of 1e-10 separates a real bug
from rounding. Gradients are compared after backpropagating one random upstream gradient
through both sides: a plain `.sum()` would give softmax a zero gradient and hide bugs.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from blocklab.nn import (
    GPT,
    Block,
    ClassifierConfig,
    EncoderClassifier,
    GPTConfig,
    MultiHeadAttention,
    Seq2SeqConfig,
    Seq2SeqTransformer,
)

TIGHT = {"rtol": 1e-10, "atol": 1e-10}
TINY = {"vocab_size": 13, "d_model": 16, "n_heads": 4, "d_ff": 32, "max_len": 32}


def tiny_gpt(**changes) -> GPT:
    return GPT(GPTConfig(**{**TINY, **changes})).double().eval()


def tiny_seq2seq(**changes) -> Seq2SeqTransformer:
    changes = {"n_encoder_layers": 2, "n_decoder_layers": 2, **changes}
    return Seq2SeqTransformer(Seq2SeqConfig(**{**TINY, **changes})).double().eval()


def tiny_classifier(**changes) -> EncoderClassifier:
    return EncoderClassifier(ClassifierConfig(**{**TINY, "n_classes": 3, **changes})).double().eval()


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str = "") -> None:
    torch.testing.assert_close(actual, expected, **TIGHT, msg=lambda m: f"{what}: {m}")


class Tied(NamedTuple):
    """One of our parameters and the slice of a reference parameter it was copied from."""

    name: str
    ours: nn.Parameter
    ref: nn.Parameter
    rows: slice


class WeightMap:
    """Copies reference weights into our modules and remembers the pairs for gradient checks."""

    def __init__(self) -> None:
        self.pairs: list[Tied] = []

    def tie(self, name: str, ours: nn.Parameter, ref: nn.Parameter, rows: slice = slice(None)) -> None:
        with torch.no_grad():
            ours.copy_(ref[rows])
        self.pairs.append(Tied(name, ours, ref, rows))

    def linear(self, name: str, ours: nn.Linear, weight: nn.Parameter, bias: nn.Parameter, rows=slice(None)) -> None:
        self.tie(f"{name}.weight", ours.weight, weight, rows)
        self.tie(f"{name}.bias", ours.bias, bias, rows)

    def attention(self, name: str, ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
        """nn.MultiheadAttention packs q, k, v into one in_proj; ours has three Linears."""
        D = ref.embed_dim
        for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
            rows = slice(i * D, (i + 1) * D)
            self.linear(f"{name}.{'qkv'[i]}_proj", proj, ref.in_proj_weight, ref.in_proj_bias, rows)
        self.linear(f"{name}.out_proj", ours.out_proj, ref.out_proj.weight, ref.out_proj.bias)

    def norm(self, name: str, ours: nn.Module, ref: nn.Module) -> None:
        self.tie(f"{name}.weight", ours.weight, ref.weight)
        self.tie(f"{name}.bias", ours.bias, ref.bias)

    def encoder_layer(self, name: str, ours: Block, ref: nn.TransformerEncoderLayer) -> None:
        self.attention(f"{name}.attn", ours.attn, ref.self_attn)
        self.norm(f"{name}.norm1", ours.res_attn.norm, ref.norm1)
        self._feed_forward(name, ours, ref)
        self.norm(f"{name}.norm2", ours.res_mlp.norm, ref.norm2)

    def decoder_layer(self, name: str, ours: Block, ref: nn.TransformerDecoderLayer) -> None:
        self.attention(f"{name}.attn", ours.attn, ref.self_attn)
        self.norm(f"{name}.norm1", ours.res_attn.norm, ref.norm1)
        self.attention(f"{name}.cross_attn", ours.cross_attn, ref.multihead_attn)
        self.norm(f"{name}.norm2", ours.res_cross.norm, ref.norm2)
        self._feed_forward(name, ours, ref)
        self.norm(f"{name}.norm3", ours.res_mlp.norm, ref.norm3)

    def _feed_forward(self, name: str, ours: Block, ref: nn.Module) -> None:
        self.linear(f"{name}.mlp.up", ours.mlp.up, ref.linear1.weight, ref.linear1.bias)
        self.linear(f"{name}.mlp.down", ours.mlp.down, ref.linear2.weight, ref.linear2.bias)

    def assert_covers(self, module: nn.Module) -> None:
        """Every parameter of `module` was copied, so no weight escapes the comparison."""
        tied = {id(p.ours) for p in self.pairs}
        missed = [n for n, p in module.named_parameters() if id(p) not in tied]
        assert not missed, f"parameters not copied from the reference: {missed}"

    def assert_same_grads(self) -> None:
        for p in self.pairs:
            assert p.ours.grad is not None, f"{p.name}: no gradient"
            assert_close(p.ours.grad, p.ref.grad[p.rows], f"gradient of {p.name}")


def randomize_(module: nn.Module) -> nn.Module:
    """Random values in every parameter: torch's zero biases and unit norm weights would hide a swap."""
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.5, 0.5)
    return module


def backprop_same(ours: torch.Tensor, ref: torch.Tensor) -> None:
    """Backpropagate one random upstream gradient through both outputs."""
    upstream = torch.randn_like(ref)
    ours.backward(upstream)
    ref.backward(upstream)


def leaf(x: torch.Tensor) -> torch.Tensor:
    """A fresh leaf copy that records its gradient."""
    return x.detach().clone().requires_grad_(True)
