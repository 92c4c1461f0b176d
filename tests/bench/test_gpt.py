"""The GPT training-step benchmark: same model for every contender, fusion that leaves the
math alone, and the structure of what it reports. Nothing here asserts a time."""
from __future__ import annotations

import sys

import pytest
import torch

from blocklab.bench import breakdown as breakdown_module
from blocklab.bench.breakdown import breakdown, family
from blocklab.bench.flops import seq2seq_forward_flops, training_step_flops
from blocklab.bench.gpt import (
    batches,
    bench_step,
    build,
    loss_curves,
    markov_tokens,
    paper_base_mfu,
    ratios,
    train_step,
)
from blocklab.bench.peers import CONTENDERS, SIZES, GPTSize, TorchEncoderGPT, n_parameters
from blocklab.bench.timing import Stats
from blocklab.nn import GPT, LayerNorm
from blocklab.nn.attention import MultiHeadAttention, set_fused
from blocklab.nn.presets import preset

TINY = GPTSize("tiny", n_layers=2, n_heads=2, d_model=16, context=8, batch=3, vocab=11)
CPU = torch.device("cpu")


@pytest.mark.parametrize("size", [TINY, SIZES["nanogpt-cpu"]])
def test_every_contender_has_the_same_parameter_count(size):
    pytest.importorskip("transformers")
    counts = {name: n_parameters(build(size)) for name, build in CONTENDERS.items()}
    assert len(set(counts.values())) == 1, counts


def test_torch_peer_with_blocklab_weights_computes_the_same_logits():
    """The torch.nn contender is the same function as blocklab's GPT: copy the weights across
    (q, k, v stacked into in_proj) and compare logits in float64."""
    torch.manual_seed(0)
    ours, peer = GPT(TINY.gpt_config()).double().eval(), TorchEncoderGPT(TINY).double().eval()
    peer.tok.weight.data.copy_(ours.embed.tok.weight)
    peer.pos.weight.data.copy_(ours.embed.pos.table.weight)
    for block, layer in zip(ours.blocks, peer.blocks.layers):
        a = block.attn
        layer.self_attn.in_proj_weight.data.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
        layer.self_attn.in_proj_bias.data.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
        layer.self_attn.out_proj.load_state_dict(a.out_proj.state_dict())
        layer.linear1.load_state_dict(block.mlp.up.state_dict())
        layer.linear2.load_state_dict(block.mlp.down.state_dict())
        layer.norm1.load_state_dict(block.res_attn.norm.state_dict())
        layer.norm2.load_state_dict(block.res_mlp.norm.state_dict())
    peer.norm.load_state_dict(ours.norm_f.state_dict())
    idx = torch.randint(0, TINY.vocab, (2, TINY.context))
    torch.testing.assert_close(peer(idx), ours(idx), rtol=1e-10, atol=1e-10)


def test_set_fused_switches_attention_and_layernorm_both_ways():
    assert LayerNorm(4).fused is False and MultiHeadAttention(TINY.gpt_config()).fused is None  # the defaults
    model = set_fused(GPT(TINY.gpt_config()), False)
    kinds = [m for m in model.modules() if isinstance(m, (MultiHeadAttention, LayerNorm))]
    assert kinds and all(m.fused is False for m in kinds)
    set_fused(model, True)
    assert all(m.fused is (None if isinstance(m, MultiHeadAttention) else True) for m in kinds)


@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_fused_and_written_out_layernorm_agree_in_float64(eps):
    torch.manual_seed(0)
    norm = LayerNorm(6, eps).double()
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    x, upstream = torch.randn(3, 4, 6, dtype=torch.float64) * 3 + 1, torch.randn(3, 4, 6, dtype=torch.float64)
    grads = {}
    for fused in (True, False):
        norm.fused = fused
        leaf = x.clone().requires_grad_()
        out = norm(leaf)
        out.backward(upstream)
        grads[fused] = (out.detach(), leaf.grad, norm.weight.grad.clone(), norm.bias.grad.clone())
        norm.zero_grad()
    for a, b in zip(grads[True], grads[False]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_layernorm_paths_part_only_on_overflow():
    """Why the written-out LayerNorm stays the default: past |x| ~ 1e19 the kernel's x^2 overflows
    to NaN, where the formula's infinite variance returns the bias (a diverging run reads differently)."""
    norm = LayerNorm(16)
    x = torch.randn(2, 16) * 1e20
    written_out = norm(x)
    norm.fused = True
    assert torch.isnan(norm(x)).any() and torch.equal(written_out, norm.bias.detach().expand(2, 16))


def test_fused_and_explicit_paths_train_the_same_loss_curve():
    """Same weights, same batches, same optimizer: the two paths' float32 losses agree step for step."""
    c = loss_curves(TINY, steps=30, device=CPU)
    assert len(c["curves"]["fused"]) == len(c["curves"]["explicit"]) == 30
    assert c["max_abs_difference"] < 1e-5
    assert c["last"]["fused"] < c["first"] - 0.1  # it learned something, so the comparison means something


def test_markov_tokens_are_seeded_and_in_the_vocabulary():
    a, b = markov_tokens(11, 200, seed=3), markov_tokens(11, 200, seed=3)
    assert torch.equal(a, b) and 0 <= int(a.min()) and int(a.max()) < 11
    assert not torch.equal(a, markov_tokens(11, 200, seed=4))


def test_bench_step_reports_every_contender_and_skips_a_missing_peer(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails, as when it is not installed
    r = bench_step(TINY, repeats=2, warmup=1, device=CPU)
    assert set(r["contenders"]) == {"blocklab", "blocklab-explicit", "torch.nn"}
    assert "pip install" in r["skipped"]["transformers"]
    for c in r["contenders"].values():
        assert c["parameters"] == r["contenders"]["blocklab"]["parameters"]
        assert 0 < c["q1_ms"] <= c["ms"] <= c["q3_ms"] and c["tokens_per_s"] > 0
    assert r["ratios"]["blocklab"]["fastest_peer"] == "torch.nn"


def test_ratios_compare_with_the_fastest_peer_eager_and_compiled_apart():
    s = {name: Stats(t, t, t, 1) for name, t in
         {"blocklab": 2.0, "torch.nn": 4.0, "transformers": 2.5, "blocklab+compile": 1.0,
          "torch.nn+compile": 2.0}.items()}
    assert ratios(s) == {"blocklab": {"fastest_peer": "transformers", "ratio": 0.8},
                         "blocklab+compile": {"fastest_peer": "torch.nn+compile", "ratio": 0.5}}


def test_paper_base_step_on_cpu_counts_flops_and_leaves_mfu_to_a_gpu():
    small = {"vocab_size": 50, "d_model": 16, "n_heads": 2, "d_ff": 32, "n_encoder_layers": 1,
             "n_decoder_layers": 1, "max_len": 16}
    r = paper_base_mfu(CPU, batch=2, src_len=6, tgt_len=5, repeats=1, warmup=0, **small)
    assert r["step_flops"] == training_step_flops(seq2seq_forward_flops(preset("paper-base", **small), 2, 6, 5))
    assert r["mfu"] is None and r["peak_tflops"] is None and r["flops_per_s"] > 0


def test_breakdown_sorts_kernels_into_families_and_sums_to_the_total():
    assert family("aten::addmm") == "matmul" and family("aten::_fused_adamw_") == "optimizer"
    assert family("aten::_scaled_dot_product_flash_attention_for_cpu_backward") == "attention"
    assert family("aten::gelu") == "other"
    x, y = batches(TINY, 1, 0)[0]
    steps = {name: (lambda s=train_step(build(name, TINY, CPU, 0), CPU): s(x, y))
             for name in ("blocklab", "blocklab-explicit")}
    b = breakdown(steps, 1, peers=("blocklab-explicit",))
    fused, explicit = b["contenders"]["blocklab"], b["contenders"]["blocklab-explicit"]
    assert fused["attention"] > 0 and explicit["attention"] == 0  # the explicit path multiplies with bmm
    for t in (fused, explicit):
        assert t["matmul"] > 0 and t["optimizer"] > 0
        assert t["total"] == pytest.approx(sum(t[k] for k in ("matmul", "attention", "optimizer", "other")), abs=0.01)
    assert b["floor"]["fastest_peer"] == "blocklab-explicit"
    assert b["floor"]["ratio"] == pytest.approx((fused["matmul"] + fused["attention"]) / explicit["total"], abs=2e-3)


def test_floor_is_taken_against_the_fastest_peer(monkeypatch):
    fake = {"a": {"matmul": 6.0, "attention": 2.0, "total": 10.0}, "p": {"total": 20.0}, "q": {"total": 16.0}}
    monkeypatch.setattr(breakdown_module, "kernel_times", lambda fn, n: fake[fn()])
    b = breakdown_module.breakdown({"blocklab": lambda: "a", "p": lambda: "p", "q": lambda: "q"}, 1, ("p", "q"))
    assert b["floor"] == {"fastest_peer": "q", "ratio": 0.5}
