"""Copied-weight equivalence with PyTorch's own modules (float64, eval mode, tight tolerance).

WHAT: our attention, encoder/decoder blocks and encoder-decoder give the same outputs and
the same input and parameter gradients as nn.MultiheadAttention, nn.TransformerEncoderLayer,
nn.TransformerDecoderLayer and nn.Transformer holding the same weights.
WHY: any transposed projection, wrong scale, misplaced norm or mask sign shows up here.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from blocklab.nn import Block, BlockConfig, Context, MultiHeadAttention

from .helpers import TINY, WeightMap, assert_close, backprop_same, leaf, randomize_, tiny_seq2seq

B, T, S, D, H, FF = 3, 5, 7, TINY["d_model"], TINY["n_heads"], TINY["d_ff"]
F64 = {"dtype": torch.float64}


def random_masks(kind: str, T: int, S: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(attn_mask in blocklab's convention, key_padding_mask); key 0 stays visible so no row is empty."""
    attn_mask = padding = None
    if "bool" in kind:
        attn_mask = torch.rand(T, S) > 0.4
        attn_mask[:, 0] = True
    if "float" in kind:
        attn_mask = torch.randn(T, S, **F64).masked_fill(torch.rand(T, S) < 0.3, float("-inf"))
        attn_mask[:, 0] = 0.0
    if "padding" in kind:
        padding = torch.rand(B, S) > 0.6
        padding[:, 0] = False
    return attn_mask, padding


def to_torch_mask(attn_mask: torch.Tensor | None) -> torch.Tensor | None:
    """blocklab's bool mask says True = may attend; nn.MultiheadAttention's says True = forbidden."""
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        return ~attn_mask
    return attn_mask


def causal_float_mask(T: int) -> torch.Tensor:
    return nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
@pytest.mark.parametrize("kind", ["none", "bool", "float", "padding", "bool+padding"])
def test_attention_matches_multihead_attention(cross, kind):
    cfg = BlockConfig(d_model=D, n_heads=H, dropout=0.0)
    ours = MultiHeadAttention(cfg, cross=cross).double().eval()
    ref = randomize_(nn.MultiheadAttention(D, H, batch_first=True, **F64)).eval()
    weights = WeightMap()
    weights.attention("attn", ours, ref)
    weights.assert_covers(ours)

    S_ = S if cross else T
    x = torch.randn(B, T, D, **F64)
    memory = torch.randn(B, S_, D, **F64) if cross else x
    attn_mask, padding = random_masks(kind, T, S_)
    x_ours, m_ours, x_ref, m_ref = leaf(x), leaf(memory), leaf(x), leaf(memory)

    out, w = ours(x_ours, m_ours if cross else None, attn_mask=attn_mask, key_padding_mask=padding, need_weights=True)
    out_ref, w_ref = ref(x_ref, m_ref if cross else x_ref, m_ref if cross else x_ref,
                         attn_mask=to_torch_mask(attn_mask), key_padding_mask=padding,
                         need_weights=True, average_attn_weights=False)
    assert_close(out, out_ref, "output")
    assert_close(w, w_ref, "attention weights")
    fused, _ = ours(x, memory if cross else None, attn_mask=attn_mask, key_padding_mask=padding)
    assert_close(fused, out_ref, "output on the fused path")

    backprop_same(out, out_ref)
    assert_close(x_ours.grad, x_ref.grad, "gradient of x")
    if cross:
        assert_close(m_ours.grad, m_ref.grad, "gradient of memory")
    weights.assert_same_grads()


def block_config(norm_first: bool, activation: str, **changes) -> BlockConfig:
    return BlockConfig(d_model=D, n_heads=H, d_ff=FF, dropout=0.0, activation=activation,
                       norm_position="pre" if norm_first else "post", **changes)


def layer_kwargs(norm_first: bool, activation: str) -> dict:
    return dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, activation=activation,
                batch_first=True, norm_first=norm_first, **F64)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_encoder_block_matches_transformer_encoder_layer(norm_first, activation):
    ours = Block(block_config(norm_first, activation), 0).double().eval()
    ref = randomize_(nn.TransformerEncoderLayer(**layer_kwargs(norm_first, activation))).eval()
    weights = WeightMap()
    weights.encoder_layer("block", ours, ref)
    weights.assert_covers(ours)

    x = torch.randn(B, T, D, **F64)
    _, padding = random_masks("padding", T, T)
    x_ours, x_ref = leaf(x), leaf(x)
    out = ours(x_ours, Context(pos=torch.arange(T), key_padding_mask=padding))
    out_ref = ref(x_ref, src_key_padding_mask=padding)
    assert_close(out, out_ref, "output")

    backprop_same(out, out_ref)
    assert_close(x_ours.grad, x_ref.grad, "gradient of x")
    weights.assert_same_grads()


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_block_matches_transformer_decoder_layer(norm_first, activation):
    ours = Block(block_config(norm_first, activation), 0, cross=True).double().eval()
    ref = randomize_(nn.TransformerDecoderLayer(**layer_kwargs(norm_first, activation))).eval()
    weights = WeightMap()
    weights.decoder_layer("block", ours, ref)
    weights.assert_covers(ours)

    tgt, memory = torch.randn(B, T, D, **F64), torch.randn(B, S, D, **F64)
    _, memory_padding = random_masks("padding", T, S)
    t_ours, m_ours, t_ref, m_ref = leaf(tgt), leaf(memory), leaf(tgt), leaf(memory)
    ctx = Context(pos=torch.arange(T), is_causal=True, memory=m_ours, memory_key_padding_mask=memory_padding)
    out = ours(t_ours, ctx)
    out_ref = ref(t_ref, m_ref, tgt_mask=causal_float_mask(T), memory_key_padding_mask=memory_padding)
    assert_close(out, out_ref, "output")

    backprop_same(out, out_ref)
    assert_close(t_ours.grad, t_ref.grad, "gradient of tgt")
    assert_close(m_ours.grad, m_ref.grad, "gradient of memory")
    weights.assert_same_grads()


def paper_pair(**changes):
    """A post-norm Seq2SeqTransformer with final norms and an nn.Transformer holding its weights."""
    ours = tiny_seq2seq(norm_position="post", final_norm=True, activation="relu", dropout=0.0, **changes)
    ref = randomize_(nn.Transformer(num_encoder_layers=2, num_decoder_layers=2, **layer_kwargs(False, "relu"))).eval()
    weights = WeightMap()
    for i, layer in enumerate(ref.encoder.layers):
        weights.encoder_layer(f"encoder.{i}", ours.encoder.blocks[i], layer)
    for i, layer in enumerate(ref.decoder.layers):
        weights.decoder_layer(f"decoder.{i}", ours.decoder.blocks[i], layer)
    weights.norm("encoder.norm", ours.encoder.norm, ref.encoder.norm)
    weights.norm("decoder.norm", ours.decoder.norm, ref.decoder.norm)
    weights.assert_covers(ours.encoder)
    weights.assert_covers(ours.decoder)
    return ours, ref, weights


def test_stacks_match_nn_transformer():
    """Encoder stack -> memory -> decoder stack, before the output head, against nn.Transformer."""
    ours, ref, weights = paper_pair()
    src, tgt = torch.randn(B, S, D, **F64), torch.randn(B, T, D, **F64)
    _, padding = random_masks("padding", T, S)
    s_ours, t_ours, s_ref, t_ref = leaf(src), leaf(tgt), leaf(src), leaf(tgt)

    memory = ours.encoder(s_ours, Context(pos=torch.arange(S), key_padding_mask=padding))
    out = ours.decoder(t_ours, Context(pos=torch.arange(T), is_causal=True, memory=memory,
                                       memory_key_padding_mask=padding))
    out_ref = ref(s_ref, t_ref, tgt_mask=causal_float_mask(T), src_key_padding_mask=padding,
                  memory_key_padding_mask=padding)
    assert_close(out, out_ref, "decoder output")

    backprop_same(out, out_ref)
    assert_close(s_ours.grad, s_ref.grad, "gradient of the source")
    assert_close(t_ours.grad, t_ref.grad, "gradient of the target")
    weights.assert_same_grads()


def test_seq2seq_forward_matches_nn_transformer_on_its_embeddings():
    """The model's own wiring (encode, padding masks, decode, final norms, head) around nn.Transformer."""
    ours, ref, _ = paper_pair(pad_id=0, scale_embeddings=True)
    src = torch.randint(1, TINY["vocab_size"], (B, S))
    src[0, -2:] = 0
    tgt = torch.randint(1, TINY["vocab_size"], (B, T))
    padding = src == 0
    logits = ours(src, tgt)
    # With gradients enabled nn.Transformer keeps to its reference path (no nested-tensor fast path).
    x_src, x_tgt = ours.src_embed(src, torch.arange(S)), ours.tgt_embed(tgt, torch.arange(T))
    out_ref = ref(x_src, x_tgt, tgt_mask=causal_float_mask(T), src_key_padding_mask=padding,
                  memory_key_padding_mask=padding)
    assert_close(logits, ours.lm_head(out_ref), "logits")
