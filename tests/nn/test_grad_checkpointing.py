"""Gradient checkpointing must change memory, never numbers: every gradient equals the plain
run's, and each block really runs twice (once forward, once recomputed in backward)."""
import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import set_grad_checkpointing

from .helpers import tiny_classifier, tiny_gpt, tiny_seq2seq


def grads_and_calls(model, run, checkpointing: bool, seed: int = 0):
    """Gradients of every parameter after backpropagating a random upstream gradient, and how
    many times each block's FFN ran. The same seed draws the same dropout masks on both sides."""
    set_grad_checkpointing(model, checkpointing)
    calls = []
    handles = [m.register_forward_pre_hook(lambda *_: calls.append(1)) for m in model.modules()
               if type(m).__name__ == "FeedForward"]
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    out = run(model)
    out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype))
    for h in handles:
        h.remove()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, len(calls) / len(handles)


def assert_same_grads(a, b):
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=lambda m: f"{name}: {m}")


TOKENS = torch.randint(0, 13, (3, 9), generator=torch.Generator().manual_seed(2))

CASES = {
    "gpt": (lambda: tiny_gpt(n_layers=3), lambda m: m(TOKENS)),
    "classifier with padding": (lambda: tiny_classifier(pad_id=0, pooling="cls"), lambda m: m(TOKENS)),
    "seq2seq with cross-attention": (lambda: tiny_seq2seq(pad_id=0), lambda m: m(TOKENS, TOKENS[:, :6])),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_gradients_are_identical_and_blocks_are_recomputed(case, dropout):
    build, run = CASES[case]
    model = build()
    if dropout:
        model = type(model)(model.cfg.replace(dropout=dropout)).double()
    model.train(bool(dropout))  # with dropout, the recomputation must draw the same masks
    plain, plain_calls = grads_and_calls(model, run, checkpointing=False)
    ckpt, ckpt_calls = grads_and_calls(model, run, checkpointing=True)
    assert (plain_calls, ckpt_calls) == (1, 2)
    assert_same_grads(ckpt, plain)


def test_a_hooked_block_is_not_recomputed_so_the_hook_still_shapes_the_gradient():
    # run_with_hooks removes its hooks when the forward pass returns, before backward: a recomputed
    # block would run without the ablation and give the gradient of another function.
    model = tiny_gpt(n_layers=2)

    def halve_attn(act, hook):
        return act * 0.5

    def run(m):
        return m.run_with_hooks(TOKENS, fwd_hooks=[("blocks.0.hook_attn_out", halve_attn)])

    plain, _ = grads_and_calls(model, run, checkpointing=False)
    ckpt, calls = grads_and_calls(model, run, checkpointing=True)
    assert calls == 1.5  # block 0 (hooked) ran once, block 1 twice
    assert_same_grads(ckpt, plain)
    unhooked, _ = grads_and_calls(model, lambda m: m(TOKENS), checkpointing=False)
    assert not torch.equal(unhooked["blocks.0.attn.q_proj.weight"], plain["blocks.0.attn.q_proj.weight"])


def test_run_with_cache_sees_the_same_activations():
    model = tiny_gpt()
    set_grad_checkpointing(model, False)
    _, plain = model.run_with_cache(TOKENS, names=lambda n: n.endswith("hook_resid_post"))
    set_grad_checkpointing(model, True)
    _, ckpt = model.run_with_cache(TOKENS, names=lambda n: n.endswith("hook_resid_post"))
    assert plain.keys() == ckpt.keys() and all(torch.equal(plain[k], ckpt[k]) for k in plain)


def test_a_kv_cache_is_filled_once_and_no_grad_runs_are_not_wrapped():
    model = tiny_gpt()
    set_grad_checkpointing(model, True)
    cache = model.new_cache()
    logits = model(TOKENS[:, :4], cache=cache)  # grad enabled, but a cache must not be appended twice
    logits.backward(torch.randn_like(logits))
    assert cache.length == 4
    with torch.no_grad():
        torch.testing.assert_close(model(TOKENS[:, 4:5], cache=cache)[:, -1], model(TOKENS[:, :5])[:, -1])


def test_switching_returns_the_previous_setting_and_refuses_models_without_blocks():
    model = tiny_gpt()
    assert set_grad_checkpointing(model, True) is False
    assert set_grad_checkpointing(model, False) is True
    with pytest.raises(BlocklabError, match="Linear has none; set grad_checkpointing=False"):
        set_grad_checkpointing(torch.nn.Linear(2, 2), True)
