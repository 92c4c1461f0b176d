"""The three models as wholes: every parameter learns, the initial loss is chance, a tiny GPT
memorises a batch, and every combination of the main toggles runs forward and backward."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from blocklab.nn import GPT, GPTConfig

from .helpers import TINY, tiny_classifier, tiny_gpt, tiny_seq2seq

B, T, S, V = 2, 6, 5, TINY["vocab_size"]


def tokens(length: int) -> torch.Tensor:
    return torch.randint(0, V, (B, length))


# kind: (builder, forward pass, output shape)
KINDS = {
    "gpt": (tiny_gpt, lambda m: m(tokens(T)), (B, T, V)),
    "seq2seq": (tiny_seq2seq, lambda m: m(tokens(S), tokens(T)), (B, T, V)),
    "classifier": (tiny_classifier, lambda m: m(tokens(T)), (B, 3)),
}

GRADIENT_CASES = {
    "gpt": ("gpt", {"pos_encoding": "learned"}),
    "gpt-untied-swiglu-gqa-rms": ("gpt", {"tie_weights": False, "activation": "swiglu", "n_kv_heads": 2,
                                          "norm": "rms"}),
    "gpt-speedrun": ("gpt", {"qk_norm": True, "activation": "relu_squared", "pos_encoding": "rope",
                             "tie_weights": False, "norm": "rms"}),
    "seq2seq-unshared": ("seq2seq", {"pos_encoding": "learned", "share_embeddings": False, "tie_weights": False}),
    "seq2seq-post-final-norm": ("seq2seq", {"norm_position": "post", "final_norm": True}),
    "classifier-mean": ("classifier", {"pooling": "mean", "pos_encoding": "learned"}),
    "classifier-cls": ("classifier", {"pooling": "cls", "pos_encoding": "learned"}),
}


@pytest.mark.parametrize("kind, changes", GRADIENT_CASES.values(), ids=GRADIENT_CASES.keys())
def test_every_parameter_receives_a_nonzero_gradient(kind, changes):
    build, forward, _ = KINDS[kind]
    model = build(**changes).train()
    out = forward(model)
    out.backward(torch.randn_like(out))
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing}"


BRANCH_OUTPUTS = ("attn.out_proj.weight", "cross_attn.out_proj.weight", "mlp.down.weight")


@pytest.mark.parametrize("kind", KINDS)
def test_zero_init_branch_output_zeroes_exactly_the_last_matrix_of_each_branch(kind):
    build, forward, _ = KINDS[kind]
    model = build(zero_init_branch_output=True)
    zero = {name for name, p in model.named_parameters() if p.ndim == 2 and not p.any()}
    branch_outputs = {name for name, _ in model.named_parameters() if name.endswith(BRANCH_OUTPUTS)}
    assert branch_outputs and zero == branch_outputs
    assert all(p.any() for p in build().parameters() if p.ndim == 2), "off by default"


def test_zero_init_gpt_starts_as_its_embedding_and_head_and_then_grows_its_branches():
    """Every block starts as the identity, so the logits are lm_head(norm_f(embed(x))); the gradient
    still reaches the zeroed matrices (their inputs are not zero), so the branches grow from step 1."""
    model, idx = tiny_gpt(zero_init_branch_output=True, pos_encoding="learned"), tokens(T)
    out = model(idx)
    expected = model.lm_head(model.norm_f(model.embed(idx, torch.arange(T))))
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    out.backward(torch.randn_like(out))
    for name, p in model.named_parameters():
        if name.endswith(BRANCH_OUTPUTS):
            assert p.grad.abs().sum() > 0, f"{name} gets no gradient"


@pytest.mark.parametrize("dropout", [{"dropout": 0.3}, {"dropout": 0.0, "attn_dropout": 0.3}], ids=["all", "attention"])
def test_dropout_acts_in_training_only(dropout):
    model, idx = tiny_gpt(**dropout), tokens(T)
    assert torch.equal(model(idx), model(idx)), "eval mode is deterministic"
    model.train()
    assert not torch.equal(model(idx), model(idx)), "training mode drops units"


def test_initial_loss_of_a_fresh_gpt_is_chance():
    vocab = 64
    model = GPT(GPTConfig(vocab_size=vocab, d_model=32, n_heads=2, d_ff=64, max_len=32))
    data = torch.randint(0, vocab, (8, 33))
    loss = F.cross_entropy(model(data[:, :-1]).reshape(-1, vocab), data[:, 1:].reshape(-1))
    assert abs(loss.item() - math.log(vocab)) < 0.1, f"initial loss {loss.item():.3f}, ln(V) = {math.log(vocab):.3f}"


def test_tiny_gpt_overfits_one_batch():
    vocab = 16
    model = GPT(GPTConfig(vocab_size=vocab, d_model=32, n_heads=2, d_ff=64, n_layers=2, max_len=16))
    data = torch.randint(0, vocab, (4, 13))
    data[:, 0] = torch.arange(4)  # distinct first tokens: every prefix determines its sequence
    x, y = data[:, :-1], data[:, 1:]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(300):
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if loss.item() < 0.05:
            break
    assert losses[-1] < 0.05, f"loss went {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps"


@pytest.mark.parametrize("kind, norm", [(k, n) for k in KINDS for n in ("layer", "batch", "rms", "none")
                                         if n != "batch" or k == "classifier"])  # causal models refuse BatchNorm
@pytest.mark.parametrize("residual", [True, False], ids=["residual", "no-residual"])
@pytest.mark.parametrize("norm_position", ["pre", "post"])
@pytest.mark.parametrize("pos_encoding", ["sinusoidal", "learned", "alibi", "rope", "none"])
def test_every_combination_runs_forward_and_backward(pos_encoding, norm_position, residual, kind, norm):
    build, forward, shape = KINDS[kind]
    model = build(pos_encoding=pos_encoding, norm=norm, norm_position=norm_position, residual=residual,
                  dropout=0.1).train()
    out = forward(model)
    assert out.shape == shape
    assert torch.isfinite(out).all()
    out.backward(torch.randn_like(out))
    bad = [name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not bad, f"missing or non-finite gradients: {bad}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("changes", [{"pos_encoding": "t5"}, {"pos_encoding": "kerple"}, {"pos_encoding": "fire"},
                                     {"pos_encoding": "rope", "pos_randomize_max": 20}], ids=["t5", "kerple", "fire",
                                                                                               "rope-randomized"])
def test_every_model_trains_the_learned_position_biases(kind, changes):
    """In the encoder, the decoder and the classifier, each bias parameter receives a finite, nonzero gradient."""
    build, forward, shape = KINDS[kind]
    model = build(**changes).train()
    out = forward(model)
    assert out.shape == shape
    out.backward(torch.randn_like(out))
    positional = {n: p for n, p in model.named_parameters() if ".pos." in f".{n}"}
    bad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not bad, f"missing or non-finite gradients: {bad}"
    # FIRE's output bias shifts a whole row of scores, which softmax ignores: its gradient is zero.
    dead = [n for n, p in positional.items() if not n.endswith("mlp.2.bias") and not p.grad.abs().sum() > 0]
    assert not dead, f"position parameters that do not learn: {dead}"
