"""Sublayer wiring against the formulas in blocks.py and ffn.py: residual placement and scale,
feed-forward activations, removable sublayers, and the embedding in front of the blocks."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.nn import Block, BlockConfig, Context, FeedForward, Residual, add_residual
from blocklab.nn.hooks import HookPoint

from .helpers import TINY, assert_close, tiny_gpt

B, T, D = 2, 5, 8
F64 = {"dtype": torch.float64}


def reference_layer_norm(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(-1, keepdim=True)) / (x.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_residual_wrapper_follows_its_formula(norm_position, residual, scale):
    """pre: scale*x + f(norm(x)); post: norm(scale*x + f(x)); without the residual the scale*x term goes."""
    cfg = BlockConfig(d_model=D, n_heads=2, norm_position=norm_position, residual=residual, residual_scale=scale)
    wrapper = Residual(cfg).double()
    f = nn.Linear(D, D, **F64)
    x = torch.randn(B, T, D, **F64)
    skip = scale * x if residual else 0.0
    if norm_position == "pre":
        expected = skip + f(reference_layer_norm(x))
    else:
        expected = reference_layer_norm(skip + f(x))
    assert_close(wrapper(x, f, HookPoint()), expected, "residual output")


def test_residual_with_a_width_changing_sublayer_raises():
    with pytest.raises(BlocklabError, match=r"\(2, 5, 8\).*\(2, 5, 4\)"):
        add_residual(torch.zeros(B, T, D), torch.zeros(B, T, 4), 1.0)


@pytest.mark.parametrize("activation", ["relu", "gelu", "swiglu", "relu_squared"])
def test_feed_forward_follows_its_formula(activation):
    ffn = FeedForward(BlockConfig(d_model=D, n_heads=2, d_ff=16, activation=activation)).double()
    x = torch.randn(B, T, D, **F64)
    up = x @ ffn.up.weight.T + ffn.up.bias
    if activation == "relu":
        hidden = up.clamp(min=0)
    elif activation == "gelu":
        hidden = 0.5 * up * (1 + torch.erf(up / math.sqrt(2)))
    elif activation == "relu_squared":
        hidden = up.clamp(min=0) ** 2
    else:  # Shazeer (2020): silu(x W1) * (x W3)
        hidden = up * torch.sigmoid(up) * (x @ ffn.gate.weight.T + ffn.gate.bias)
    assert_close(ffn(x), hidden @ ffn.down.weight.T + ffn.down.bias, f"{activation} feed-forward")


def test_removing_sublayers_by_config():
    no_ffn = Block(BlockConfig(d_model=D, n_heads=2, ffn=False), 0).double()
    no_mixer = Block(BlockConfig(d_model=D, n_heads=2, mixer="none", pos_encoding="none"), 0).double()
    assert no_ffn.mlp is None and no_ffn.res_mlp is None
    assert no_mixer.attn is None and no_mixer.res_attn is None
    x = torch.randn(B, T, D, **F64)
    ctx = Context(pos=torch.arange(T))
    assert_close(no_mixer(x, ctx), x + no_mixer.mlp(reference_layer_norm(x)), "a block with only its FFN")
    expected = x + no_ffn.attn(reference_layer_norm(x), pos=ctx.pos)[0]
    assert_close(no_ffn(x, ctx), expected, "a block with only its attention")


@pytest.mark.parametrize("scale_embeddings", [False, True])
def test_embedding_is_scaled_tokens_plus_sinusoid(scale_embeddings):
    model = tiny_gpt(scale_embeddings=scale_embeddings)
    idx = torch.randint(0, TINY["vocab_size"], (B, T))
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    i = torch.arange(0, TINY["d_model"], 2, dtype=torch.float64)
    angles = pos / 10000 ** (i / TINY["d_model"])
    table = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)  # sin at even, cos at odd columns
    scale = math.sqrt(TINY["d_model"]) if scale_embeddings else 1.0
    expected = model.embed.tok.weight[idx] * scale + table
    torch.testing.assert_close(model.embed(idx, torch.arange(T)), expected, rtol=0, atol=1e-6)
