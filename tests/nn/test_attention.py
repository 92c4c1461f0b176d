"""Scaled dot-product attention: fused path == explicit path, fully masked rows, scale and temperature, GQA.

The explicit path is the readable reference; the fused path (F.scaled_dot_product_attention)
must give the same outputs and gradients for every kind of mask. A query row whose keys are
all masked is documented to give zero weights and zero output on both paths, never NaN.
"""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import ALiBi, BlockConfig, HookPoint, MeanMixer, MultiHeadAttention, scaled_dot_product_attention

from .helpers import assert_close, leaf

B, H, T, S, Dh = 2, 4, 5, 5, 8
F64 = {"dtype": torch.float64}


def qkv(T: int = T, S: int = S) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.randn(B, H, T, Dh, **F64), torch.randn(B, H, S, Dh, **F64), torch.randn(B, H, S, Dh, **F64)


def mask_kwargs(kind: str, T: int = T, S: int = S) -> dict:
    """Keyword arguments for one masking case; every query keeps at least one key."""
    kwargs: dict = {}
    if "causal" in kind:
        kwargs["is_causal"] = True
    if "bool" in kind:
        allowed = torch.rand(T, S) > 0.5
        allowed[:, -1] = True
        kwargs["attn_mask"] = allowed
    if "float" in kind:
        kwargs["attn_mask"] = torch.randn(T, S, **F64).masked_fill(torch.rand(T, S) < 0.3, -math.inf)
        kwargs["attn_mask"][:, 0] = 0.0
    if "alibi" in kind:
        kwargs["bias"] = ALiBi(H).bias(torch.arange(S - T, S), torch.arange(S))
    if "padding" in kind:
        padding = torch.zeros(B, S, dtype=torch.bool)
        padding[0, 1:3] = True
        kwargs["key_padding_mask"] = padding
    return kwargs


def run_both_paths(q, k, v, upstream=None, **kwargs):
    """Outputs and (q, k, v) gradients of the explicit and the fused path, same upstream gradient."""
    results = []
    for fused in (False, True):
        leaves = [leaf(t) for t in (q, k, v)]
        out, weights = scaled_dot_product_attention(*leaves, fused=fused, **kwargs)
        assert (weights is None) == fused, "weights come back exactly on the explicit path"
        upstream = torch.randn_like(out) if upstream is None else upstream
        out.backward(upstream)
        results.append((out, weights, [t.grad for t in leaves]))
    return results


CASES = ["none", "causal", "bool", "float", "alibi", "padding", "causal+alibi+padding", "bool+float+padding",
         "causal+float"]


@pytest.mark.parametrize("kind", CASES)
def test_fused_path_equals_explicit_path(kind):
    (out, weights, grads), (out_fused, _, grads_fused) = run_both_paths(*qkv(), **mask_kwargs(kind))
    assert_close(out_fused, out, "output")
    assert_close(weights.sum(-1), torch.ones(B, H, T, **F64), "weights sum to one")
    for name, g, g_fused in zip("qkv", grads, grads_fused):
        assert_close(g_fused, g, f"gradient of {name}")


@pytest.mark.parametrize("kind", ["causal", "bool", "float+padding", "causal+alibi"])
def test_fused_path_equals_explicit_path_for_cross_shapes(kind):
    """T < S, as when new queries attend to a KV cache: causal aligns the queries to the last keys."""
    (out, _, grads), (out_fused, _, grads_fused) = run_both_paths(*qkv(T=3, S=7), **mask_kwargs(kind, 3, 7))
    assert_close(out_fused, out, "output")
    for name, g, g_fused in zip("qkv", grads, grads_fused):
        assert_close(g_fused, g, f"gradient of {name}")


def test_multihead_attention_fused_flag_changes_nothing():
    attn = MultiHeadAttention(BlockConfig(d_model=H * Dh, n_heads=H, pos_encoding="none")).double().eval()
    x = torch.randn(B, T, H * Dh, **F64)
    padding = mask_kwargs("padding")["key_padding_mask"]
    upstream = torch.randn_like(x)
    outputs = []
    for fused in (None, False):
        attn.fused = fused
        x_leaf = leaf(x)
        out, _ = attn(x_leaf, is_causal=True, key_padding_mask=padding)
        out.backward(upstream)
        outputs.append((out, x_leaf.grad))
    assert_close(outputs[0][0], outputs[1][0], "output")
    assert_close(outputs[0][1], outputs[1][1], "gradient of x")


def fully_masked(kind: str) -> tuple[dict, torch.Tensor]:
    """Masks that leave some query rows with no key at all, and a (B, H, T) map of those rows."""
    empty = torch.zeros(B, H, T, dtype=torch.bool)
    if kind == "bool":
        allowed = torch.ones(T, S, dtype=torch.bool)
        allowed[1] = False
        empty[:, :, 1] = True
        return {"attn_mask": allowed}, empty
    if kind == "float":
        additive = torch.zeros(T, S, **F64)
        additive[2] = -math.inf
        empty[:, :, 2] = True
        return {"attn_mask": additive}, empty
    if kind == "padding":
        padding = torch.zeros(B, S, dtype=torch.bool)
        padding[1] = True
        empty[1] = True
        return {"key_padding_mask": padding}, empty
    # float -inf on the first keys, padding on the rest: neither mask alone empties a row.
    additive = torch.zeros(T, S, **F64)
    additive[:, :2] = -math.inf
    padding = torch.zeros(B, S, dtype=torch.bool)
    padding[0, 2:] = True
    empty[0] = True
    return {"attn_mask": additive, "key_padding_mask": padding}, empty


@pytest.mark.parametrize("kind", ["bool", "float", "padding", "float+padding"])
def test_fully_masked_rows_give_zeros_not_nan(kind):
    kwargs, empty = fully_masked(kind)
    for out, weights, grads in run_both_paths(*qkv(), **kwargs):
        assert torch.isfinite(out).all(), "output has NaN or inf"
        assert (out[empty] == 0).all(), "a fully masked row must output zeros"
        assert (out[~empty].abs().sum(-1) > 0).all(), "rows with keys must not be zeroed"
        if weights is not None:
            assert (weights[empty] == 0).all(), "a fully masked row must have zero weights"
            assert_close(weights[~empty].sum(-1), torch.ones(int((~empty).sum()), **F64), "other rows sum to 1")
        for name, g in zip("qkv", grads):
            assert torch.isfinite(g).all(), f"gradient of {name} has NaN or inf"


def test_scale_and_temperature_against_the_formula():
    q, k, v = qkv()
    for scale, temperature in [(True, 1.0), (False, 1.0), (True, 0.5), (False, 3.0)]:
        factor = (1 / math.sqrt(Dh) if scale else 1.0) / temperature
        expected = ((q @ k.transpose(-2, -1)) * factor).softmax(-1) @ v
        for fused in (False, True):
            out, _ = scaled_dot_product_attention(q, k, v, scale=scale, temperature=temperature, fused=fused)
            assert_close(out, expected, f"scale={scale} temperature={temperature} fused={fused}")


@pytest.mark.parametrize("n_kv_heads", [1, 2])
def test_grouped_query_attention_equals_full_attention_with_repeated_kv_weights(n_kv_heads):
    """MQA/GQA: query head h reads key/value head h // (H / Hkv). Copying each K/V head's weights
    to the query heads of its group gives an ordinary multi-head attention with equal output."""
    D = H * Dh
    grouped = MultiHeadAttention(BlockConfig(d_model=D, n_heads=H, n_kv_heads=n_kv_heads)).double().eval()
    full = MultiHeadAttention(BlockConfig(d_model=D, n_heads=H)).double().eval()
    repeat = H // n_kv_heads
    with torch.no_grad():
        for name in ("q_proj", "out_proj"):
            getattr(full, name).load_state_dict(getattr(grouped, name).state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(grouped, name), getattr(full, name)
            dst.weight.copy_(src.weight.view(n_kv_heads, Dh, D).repeat_interleave(repeat, 0).reshape(D, D))
            dst.bias.copy_(src.bias.view(n_kv_heads, Dh).repeat_interleave(repeat, 0).reshape(D))
    x = torch.randn(B, T, D, **F64)
    assert_close(grouped(x, is_causal=True)[0], full(x, is_causal=True)[0], "GQA output")


@pytest.mark.parametrize("padded", [False, True], ids=["no-padding", "padding"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["bidirectional", "causal"])
def test_mean_mixer_averages_exactly_the_visible_positions(is_causal, padded):
    """The attention-free ablation: uniform weights over non-padding keys (and the causal prefix)."""
    D = 8
    mixer = MeanMixer(BlockConfig(d_model=D, n_heads=2, mixer="mean", pos_encoding="none")).double()
    x = torch.randn(B, T, D, **F64)
    padding = torch.zeros(B, T, dtype=torch.bool)
    padding[0, 3:] = padded
    expected = torch.zeros(B, T, D, **F64)
    for b in range(B):
        for t in range(T):
            visible = [s for s in range(T) if not padding[b, s] and (not is_causal or s <= t)]
            expected[b, t] = x[b, visible].mean(dim=0)
    out, _ = mixer(x, key_padding_mask=padding if padded else None, is_causal=is_causal, pos=torch.arange(T))
    assert_close(out, mixer.proj(expected), "mean over visible positions")


def test_forcing_the_fused_path_refuses_to_drop_weights_or_hooks():
    q, k, v = qkv()
    with pytest.raises(BlocklabError, match="fused=True"):
        scaled_dot_product_attention(q, k, v, fused=True, need_weights=True)
    point = HookPoint()
    point.register_forward_hook(lambda *a: None)
    with pytest.raises(BlocklabError, match="fused=True"):
        scaled_dot_product_attention(q, k, v, fused=True, hook_pattern=point)


def test_qk_norm_follows_its_formula_and_ignores_the_scale_of_queries_and_keys():
    """qk_norm: each head's q and k become q / rms(q) * g_q (and k alike) before the scores, so
    multiplying W_q and W_k by any factor leaves the output unchanged; without it the output moves."""
    D = H * Dh
    cfg = BlockConfig(d_model=D, n_heads=H, qk_norm=True, norm_eps=0.0)  # eps > 0 would break exact invariance
    attn = MultiHeadAttention(cfg).double().eval()
    with torch.no_grad():
        for norm in (attn.q_norm, attn.k_norm):
            norm.weight.copy_(torch.rand(Dh, **F64) + 0.5)
    x = torch.randn(B, T, D, **F64)

    def heads(t: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, H, T, Dh), normalised
        t = t.view(B, T, H, Dh)
        return (t / (t.pow(2).mean(-1, keepdim=True) + cfg.norm_eps).sqrt() * gain).transpose(1, 2)

    q, k = heads(attn.q_proj(x), attn.q_norm.weight), heads(attn.k_proj(x), attn.k_norm.weight)
    v = attn.v_proj(x).view(B, T, H, Dh).transpose(1, 2)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    weights = (q @ k.transpose(-2, -1) / math.sqrt(Dh)).masked_fill(~mask, -math.inf).softmax(-1)
    expected = attn.out_proj((weights @ v).transpose(1, 2).reshape(B, T, D))
    assert_close(attn(x, is_causal=True)[0], expected, "QK-norm attention")

    plain = MultiHeadAttention(BlockConfig(d_model=D, n_heads=H)).double().eval()
    plain.load_state_dict({k: v for k, v in attn.state_dict().items() if "_norm" not in k})
    before = (attn(x, is_causal=True)[0], plain(x, is_causal=True)[0])
    with torch.no_grad():
        for model in (attn, plain):
            for proj, factor in ((model.q_proj, 7.0), (model.k_proj, 0.3)):
                proj.weight.mul_(factor)
                proj.bias.mul_(factor)
    assert_close(attn(x, is_causal=True)[0], before[0], "QK-norm output after rescaling W_q and W_k")
    assert not torch.allclose(plain(x, is_causal=True)[0], before[1]), "without QK-norm the scale matters"
