"""Hook points: names and documented shapes, caching, one-pass edits, head ablation.

WHAT: run_with_cache returns exactly the activations asked for, with the shapes documented
beside each HookPoint; run_with_hooks edits one pass and leaves no hook behind; head_mask
removes exactly one head's term before the output projection.
WHY: interpretability results are only as good as the hooks: a pattern cached before the
mask, or a head ablated after W_O mixes heads, gives confident wrong answers.
"""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.errors import BlocklabError

from .helpers import TINY, assert_close, tiny_classifier, tiny_gpt, tiny_seq2seq

B, T, S, D, H, FF = 2, 5, 7, TINY["d_model"], TINY["n_heads"], TINY["d_ff"]
Dh, HKV = D // H, 2


def tokens(length: int = T) -> torch.Tensor:
    return torch.randint(0, TINY["vocab_size"], (B, length))


def assert_no_hooks_left(model) -> None:
    active = [name for name, point in model.hook_points.items() if point.active]
    assert not active, f"hooks left attached: {active}"


def test_run_with_cache_returns_exactly_the_names_asked_for_with_documented_shapes():
    model = tiny_gpt(n_kv_heads=HKV)
    shapes = {
        "embed.hook_embed": (B, T, D),
        "embed.hook_pos_embed": (B, T, D),
        "blocks.0.hook_resid_pre": (B, T, D),
        "blocks.0.attn.hook_q": (B, T, H, Dh),
        "blocks.0.attn.hook_k": (B, T, HKV, Dh),
        "blocks.0.attn.hook_v": (B, T, HKV, Dh),
        "blocks.0.attn.hook_attn_scores": (B, H, T, T),
        "blocks.0.attn.hook_pattern": (B, H, T, T),
        "blocks.0.attn.hook_z": (B, T, H, Dh),
        "blocks.0.hook_attn_out": (B, T, D),
        "blocks.0.hook_resid_mid": (B, T, D),
        "blocks.1.mlp.hook_pre": (B, T, FF),
        "blocks.1.mlp.hook_post": (B, T, FF),
        "blocks.1.hook_mlp_out": (B, T, D),
        "blocks.1.hook_resid_post": (B, T, D),
    }
    idx = tokens()
    logits, cache = model.run_with_cache(idx, names=list(shapes))
    assert set(cache) == set(shapes)
    assert {name: tuple(act.shape) for name, act in cache.items()} == shapes
    assert_close(logits, model(idx), "caching must not change the logits")
    assert_no_hooks_left(model)


@pytest.mark.parametrize("pe", ["alibi", "t5", "kerple", "fire"])
def test_position_bias_hook_reads_and_edits_the_bias_of_every_layer(pe):
    """hook_pos_bias exists where an encoding adds a bias; zeroing it leaves attention without
    positions, which for ALiBi (no parameters) is exactly the 'none' model with the same weights."""
    model = tiny_gpt(pos_encoding=pe)
    idx = tokens()
    _, cache = model.run_with_cache(idx, names=["embed.hook_pos_bias"])
    assert cache["embed.hook_pos_bias"].shape == (H, T, T)
    zeroed = model.run_with_hooks(idx, fwd_hooks=[("embed.hook_pos_bias", lambda b, hook: torch.zeros_like(b))])
    assert not torch.allclose(zeroed, model(idx)), "the bias matters"
    if pe == "alibi":
        plain = tiny_gpt(pos_encoding="none")
        plain.load_state_dict(model.state_dict())
        assert_close(zeroed, plain(idx), "ALiBi with its bias zeroed")
    assert "embed.hook_pos_bias" not in tiny_gpt(pos_encoding="rope").hook_points, "no bias, no hook"


def test_cached_scores_and_pattern_follow_from_cached_queries_and_keys():
    model = tiny_gpt(n_kv_heads=HKV, pos_encoding="learned")
    names = ["blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.attn.hook_attn_scores",
             "blocks.1.attn.hook_pattern"]
    _, cache = model.run_with_cache(tokens(), names=names)
    q, k, scores, pattern = (cache[n] for n in names)
    k = k.repeat_interleave(H // HKV, dim=2)  # query head h reads key head h // (H / Hkv)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    expected = (torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(Dh)).masked_fill(future, -math.inf)
    assert_close(scores, expected, "scores: scaled and masked, before softmax")
    assert_close(pattern, expected.softmax(-1), "pattern")


def test_seq2seq_and_classifier_hook_shapes():
    seq2seq = tiny_seq2seq()
    names = ["encoder.blocks.0.attn.hook_pattern", "decoder.blocks.1.cross_attn.hook_pattern",
             "decoder.blocks.1.hook_cross_out", "src_embed.hook_embed", "tgt_embed.hook_embed"]
    _, cache = seq2seq.run_with_cache(tokens(S), tokens(T), names=names)
    assert [tuple(cache[n].shape) for n in names] == [(B, H, S, S), (B, H, T, S), (B, T, D), (B, S, D), (B, T, D)]

    classifier = tiny_classifier(pooling="cls")
    _, cache = classifier.run_with_cache(tokens(), names=["hook_pooled", "blocks.0.attn.hook_pattern"])
    assert tuple(cache["hook_pooled"].shape) == (B, D)
    assert tuple(cache["blocks.0.attn.hook_pattern"].shape) == (B, H, T + 1, T + 1), "CLS adds a position"


def test_run_with_cache_of_everything_and_by_predicate():
    model = tiny_gpt()
    _, everything = model.run_with_cache(tokens())
    assert set(everything) == set(model.hook_points)
    _, patterns = model.run_with_cache(tokens(), names=lambda name: name.endswith("hook_pattern"))
    assert set(patterns) == {"blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"}


@pytest.mark.parametrize("head", [0, 3])
def test_zeroing_one_head_in_hook_z_equals_head_mask_and_lasts_one_pass(head):
    model = tiny_gpt()
    idx = tokens()
    base = model(idx)

    def zero_head(z, hook):
        z = z.clone()
        z[:, :, head] = 0
        return z

    edited = model.run_with_hooks(idx, fwd_hooks=[("blocks.1.attn.hook_z", zero_head)])
    assert_no_hooks_left(model)
    assert_close(model(idx), base, "the edit must not outlive its pass")
    assert not torch.allclose(edited, base), "zeroing a head must change the output"

    model.blocks[1].attn.head_mask[head] = 0.0
    assert_close(model(idx), edited, "head_mask and the hook_z edit")


def test_head_mask_removes_exactly_that_heads_term_before_the_output_projection():
    """attn_out = sum_h z_h W_O[:, h]^T + b, so masking head h subtracts exactly z_h W_O[:, h]^T."""
    model, head = tiny_gpt(), 2
    attn, idx = model.blocks[0].attn, tokens()
    _, before = model.run_with_cache(idx, names=["blocks.0.attn.hook_z", "blocks.0.hook_attn_out"])
    attn.head_mask[head] = 0.0
    _, after = model.run_with_cache(idx, names=["blocks.0.hook_attn_out"])
    w_head = attn.out_proj.weight[:, head * Dh:(head + 1) * Dh]  # (D, Dh): the columns that read head h
    term = before["blocks.0.attn.hook_z"][:, :, head] @ w_head.T  # (B, T, D)
    assert_close(before["blocks.0.hook_attn_out"] - after["blocks.0.hook_attn_out"], term, "removed term")


def test_unknown_hook_names_raise_and_leave_nothing_attached():
    model = tiny_gpt()
    with pytest.raises(BlocklabError, match="blocks.9.attn.hook_z"):
        model.run_with_cache(tokens(), names=["blocks.0.attn.hook_z", "blocks.9.attn.hook_z"])
    with pytest.raises(BlocklabError, match="hook_nothing"):
        model.run_with_hooks(tokens(), fwd_hooks=[("blocks.0.attn.hook_pattern", lambda a, h: a),
                                                  ("hook_nothing", lambda a, h: a)])
    assert_no_hooks_left(model)


def test_hooks_are_removed_when_a_hook_raises():
    model = tiny_gpt()

    def broken(act, hook):
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        model.run_with_hooks(tokens(), fwd_hooks=[("blocks.0.hook_resid_mid", broken)])
    assert_no_hooks_left(model)
