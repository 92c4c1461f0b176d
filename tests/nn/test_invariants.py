"""Invariants every correct Transformer keeps: no causal leakage, permutation equivariance without positions.

WHAT: in GPT and the seq2seq decoder, changing a later token leaves every earlier logit
bit-for-bit unchanged; with no positions and no mask, permuting an encoder's input
positions permutes its outputs.
WHY: a mask off by one, a mask applied after softmax, or a mixer that averages over the
whole sequence would all pass a loss-goes-down test and still cheat.
"""
from __future__ import annotations

import pytest
import torch

from blocklab.errors import ConfigError
from blocklab.nn import Block, BlockConfig, ClassifierConfig, Context, GPTConfig, Seq2SeqConfig
from blocklab.nn.norms import BatchNorm

from .helpers import TINY, assert_close, tiny_classifier, tiny_gpt, tiny_seq2seq

V, T = TINY["vocab_size"], 8
CAUSAL_VARIANTS = {
    **{p: {"pos_encoding": p} for p in ("sinusoidal", "learned", "alibi", "rope", "t5", "kerple", "fire", "none")},
    "mean-mixer": {"mixer": "mean"},
    "mean-mixer-post-norm": {"mixer": "mean", "pos_encoding": "learned", "norm_position": "post"},
    "mqa-rms": {"pos_encoding": "rope", "n_kv_heads": 1, "norm": "rms"},
}


def assert_no_leakage(logits_of, idx: torch.Tensor) -> None:
    """logits_of(tokens) -> (B, T, V); perturb each position j and check positions < j exactly."""
    base = logits_of(idx)
    for j in range(1, idx.shape[1]):
        changed = idx.clone()
        changed[:, j] = (changed[:, j] + 1) % V
        out = logits_of(changed)
        assert torch.equal(out[:, :j], base[:, :j]), f"changing token {j} changed an earlier logit"
        assert not torch.equal(out[:, j], base[:, j]), f"changing token {j} did not change its own logit"


@pytest.mark.parametrize("changes", CAUSAL_VARIANTS.values(), ids=CAUSAL_VARIANTS.keys())
def test_gpt_has_no_causal_leakage(changes):
    model = tiny_gpt(**changes)
    assert_no_leakage(model, torch.randint(0, V, (2, T)))


@pytest.mark.parametrize("changes", CAUSAL_VARIANTS.values(), ids=CAUSAL_VARIANTS.keys())
def test_seq2seq_decoder_has_no_causal_leakage(changes):
    model = tiny_seq2seq(**changes)
    src = torch.randint(0, V, (2, 6))
    assert_no_leakage(lambda tgt: model(src, tgt), torch.randint(0, V, (2, T)))


@pytest.mark.parametrize("pe", ["rope", "t5", "fire"])
def test_gpt_training_with_randomized_positions_has_no_causal_leakage(pe):
    """Each pass draws positions afresh; the same seed before every pass makes the draws comparable."""
    model = tiny_gpt(pos_encoding=pe, pos_randomize_max=50).train()

    def logits_of(idx: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(11)
        return model(idx)

    assert_no_leakage(logits_of, torch.randint(0, V, (2, T)))


@pytest.mark.parametrize("pe", ["abacus", "coupling"])
def test_gpt_with_digit_places_has_no_causal_leakage(pe):
    """Task positions are not in token order (coupling counts down within a number): the mask must
    still follow the tokens."""
    model = tiny_gpt(pos_encoding=pe)
    positions = torch.tensor([[3, 2, 1, 0, 2, 1, 0, 4]]).expand(2, -1)
    assert_no_leakage(lambda idx: model(idx, positions=positions), torch.randint(0, V, (2, T)))


def later_step_changes_earlier_outputs(layer, x: torch.Tensor, *args) -> float:
    """Largest change of layer(x)[:, :-1] when only x[:, -1] changes: what the earlier positions learn of the last."""
    changed = x.clone()
    changed[:, -1] = torch.randn_like(changed[:, -1])
    return (layer(changed, *args)[:, :-1] - layer(x, *args)[:, :-1]).abs().max().item()


def test_batch_norm_in_training_leaks_later_tokens_into_earlier_positions():
    """Why causal models refuse norm='batch': in training, BatchNorm's mean and variance per feature are taken
    over the batch *and time*, so every position is normalized with statistics that include the later ones.
    Through a causal decoder block the leak survives the mask; a LayerNorm block (per token) leaks nothing,
    nor does BatchNorm in eval mode (running statistics)."""
    x = torch.randn(4, T, TINY["d_model"], dtype=torch.float64)
    bn = BatchNorm(TINY["d_model"]).double().train()
    assert later_step_changes_earlier_outputs(bn, x) > 0.1
    assert later_step_changes_earlier_outputs(bn.eval(), x) == 0.0

    ctx = Context(pos=torch.arange(T), is_causal=True)
    leaks = {}
    for norm in ("batch", "layer"):
        torch.manual_seed(0)
        block = Block(BlockConfig(**TINY, norm=norm, pos_encoding="none"), 0).double().train()
        leaks[norm] = later_step_changes_earlier_outputs(block, x, ctx)
    assert leaks["batch"] > 0.1 and leaks["layer"] == 0.0, leaks


@pytest.mark.parametrize("config", [GPTConfig, Seq2SeqConfig])
def test_causal_models_refuse_batch_norm_and_say_why(config):
    with pytest.raises(ConfigError) as refused:
        config(**TINY, norm="batch")
    message = str(refused.value)
    assert f"{config.__name__}.norm='batch'" in message and "'layer', 'rms', 'none'" in message
    assert "leak" in message and "later tokens" in message
    ClassifierConfig(**TINY, norm="batch")  # an encoder sees every token anyway


def test_nope_decoder_layer_sees_its_prefix_as_a_set():
    """NoPE: with no positional information, one causal layer's output at the last position cannot
    depend on the order of the tokens before it; only stacked causal masks can recover order."""
    model = tiny_gpt(pos_encoding="none", n_layers=1, init_std=0.3)
    idx = torch.randint(0, V, (3, T))
    perm = torch.cat([torch.randperm(T - 1), torch.tensor([T - 1])])  # shuffle all but the last token
    assert not torch.equal(idx[:, perm], idx)
    assert_close(model(idx[:, perm])[:, -1], model(idx)[:, -1], "last logits after shuffling the prefix")
    for pe in ("learned", "t5", "fire"):  # guards: any encoding breaks the symmetry
        other = tiny_gpt(pos_encoding=pe, n_layers=1, init_std=0.3)
        assert not torch.allclose(other(idx[:, perm])[:, -1], other(idx)[:, -1]), pe


def permuted(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    return x[:, perm]


@pytest.mark.parametrize("mixer", ["attention", "mean"])
@pytest.mark.parametrize("norm", ["layer", "batch"])
@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_encoder_block_is_permutation_equivariant_without_positions(mixer, norm, norm_position):
    cfg = ClassifierConfig(**TINY, pos_encoding="none", mixer=mixer, norm=norm, norm_position=norm_position)
    block = Block(cfg, 0).double().train()  # training mode: BatchNorm uses batch statistics
    x = torch.randn(3, T, TINY["d_model"], dtype=torch.float64)
    perm = torch.randperm(T)
    ctx = Context(pos=torch.arange(T))
    assert_close(block(permuted(x, perm), ctx), permuted(block(x, ctx), perm), "permuted output")


def test_classifier_without_positions_ignores_token_order():
    """Mean pooling of a permutation-equivariant stack is permutation invariant."""
    model = tiny_classifier(pos_encoding="none", init_std=0.3)
    idx = torch.randint(0, V, (3, T))
    perm = torch.randperm(T)
    assert_close(model(permuted(idx, perm)), model(idx), "logits after permuting the tokens")


def test_classifier_with_positions_does_see_token_order():
    """Guards the test above: with positions, the same permutation must change the logits."""
    model = tiny_classifier(pos_encoding="learned", init_std=0.3)
    idx = torch.randint(0, V, (3, T))
    perm = torch.randperm(T)
    assert not torch.allclose(model(permuted(idx, perm)), model(idx))


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("pos_encoding", ["learned", "alibi", "rope"])
def test_classifier_ignores_trailing_padding(pooling, pos_encoding):
    """Padding is masked as a key and left out of mean pooling, so adding pad tokens changes nothing."""
    model = tiny_classifier(pooling=pooling, pos_encoding=pos_encoding, pad_id=0, init_std=0.3)
    idx = torch.randint(1, V, (3, T))
    padded = torch.cat([idx, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    assert_close(model(padded), model(idx), "logits with trailing padding")
