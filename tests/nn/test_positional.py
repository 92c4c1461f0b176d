"""Positional encodings against their papers: sinusoidal table, learned overflow, ALiBi slopes, RoPE,
per-token positions (Abacus, coupling), randomized positions. The learned biases (T5, KERPLE,
FIRE) are in test_relative_bias.py.

The reference formulas are written here independently of the implementation, in float64.
"""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import (
    GPT,
    ALiBi,
    BlockConfig,
    GPTConfig,
    MultiHeadAttention,
    RoPE,
    Sinusoidal,
    alibi_slopes,
    apply_rotary,
)
from blocklab.nn.attention import set_fused
from blocklab.nn.config import POS_ENCODINGS, TASK_POSITIONS

from .helpers import assert_close, tiny_gpt

F64 = {"dtype": torch.float64}


# --------------------------------------------------------------------------- sinusoidal
def paper_sinusoid(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """Vaswani et al. (2017), section 3.5: PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(...)."""
    table = torch.zeros(n_positions, d_model, **F64)
    for pos in range(n_positions):
        for i in range(d_model // 2):
            angle = pos / base ** (2 * i / d_model)
            table[pos, 2 * i] = math.sin(angle)
            table[pos, 2 * i + 1] = math.cos(angle)
    return table


@pytest.mark.parametrize("base", [10000.0, 100.0])
def test_sinusoidal_table_matches_the_paper(base):
    """The whole table, far positions included, is right to float32 precision."""
    d_model, n = 8, 5000
    enc = Sinusoidal(d_model, n, base)
    expected = paper_sinusoid(n, d_model, base)
    torch.testing.assert_close(enc.table.double(), expected, rtol=0, atol=1e-6)


def test_sinusoidal_positions_past_the_table_continue_the_formula():
    enc = Sinusoidal(8, 4, 10000.0)
    x = torch.zeros(1, 3, 8, **F64)
    out = enc.embed(x, torch.tensor([5, 6, 7]))
    torch.testing.assert_close(out[0], paper_sinusoid(8, 8)[5:], rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- learned
def test_learned_positions_past_max_len_raise_by_default():
    model = tiny_gpt(pos_encoding="learned", max_len=8)
    model(torch.zeros(1, 8, dtype=torch.long))
    with pytest.raises(BlocklabError, match="max_len=8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_learned_positions_clamp_reuses_the_last_row():
    model = tiny_gpt(pos_encoding="learned", max_len=8, learned_overflow="clamp")
    x = torch.zeros(1, 10, 16, **F64)
    out = model.embed.pos.embed(x, torch.arange(10))
    table = model.embed.pos.table.weight
    assert_close(out[0, :8], table[:8], "rows inside the table")
    assert_close(out[0, 8:], table[7].expand(2, -1), "rows past the table reuse row max_len - 1")
    assert model(torch.zeros(1, 10, dtype=torch.long)).shape == (1, 10, 13)


# --------------------------------------------------------------------------- ALiBi
def press_slopes(n: int) -> list[float]:
    """Press et al. (2022): for n a power of two, head h (1-based) has slope 2^(-8h/n).
    Otherwise, with c the largest power of two below n: the c slopes for c heads, then the
    odd-numbered slopes of the 2c-head sequence, 2^(-8(2j-1)/(2c)) for j = 1..n-c."""
    c = 1 << (n.bit_length() - 1)
    first = [2.0 ** (-8 * h / c) for h in range(1, c + 1)]
    rest = [2.0 ** (-8 * (2 * j - 1) / (2 * c)) for j in range(1, n - c + 1)]
    return first + rest


@pytest.mark.parametrize("n_heads", range(1, 17))
def test_alibi_slopes_match_press_et_al(n_heads):
    assert alibi_slopes(n_heads).double().tolist() == pytest.approx(press_slopes(n_heads), rel=1e-7)


def test_alibi_slopes_known_values():
    assert alibi_slopes(8).tolist() == [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]
    # 6 heads: the 4-head slopes, then slopes 1 and 3 of the 8-head sequence.
    assert alibi_slopes(6).tolist() == [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]


def test_alibi_bias_is_minus_slope_times_distance():
    bias = ALiBi(2).bias(torch.tensor([2, 3]), torch.arange(4))  # (H, Tq, Tk)
    distance = torch.tensor([[2.0, 1.0, 0.0, 1.0], [3.0, 2.0, 1.0, 0.0]])
    torch.testing.assert_close(bias, torch.stack([-distance / 16, -distance / 256]))


# --------------------------------------------------------------------------- RoPE
def rotate(x: torch.Tensor, pos: int, rope: RoPE) -> torch.Tensor:
    cos, sin = rope.rotary(torch.tensor([pos]))
    return apply_rotary(x, cos, sin)


@pytest.mark.parametrize("shift", [1, 7, 1000, 4093])
def test_rope_score_depends_only_on_the_offset(shift):
    rope = RoPE(head_dim=8, base=10000.0)
    q, k = torch.randn(1, 1, 1, 8, **F64), torch.randn(1, 1, 1, 8, **F64)
    for p, r in [(3, 1), (0, 5), (9, 9), (20, 2)]:
        score = (rotate(q, p, rope) * rotate(k, r, rope)).sum()
        shifted = (rotate(q, p + shift, rope) * rotate(k, r + shift, rope)).sum()
        assert_close(shifted, score, f"score at ({p}, {r}) shifted by {shift}")


def test_rope_score_does_change_with_the_offset():
    """Guards the test above: a RoPE that rotated nothing would pass it trivially."""
    rope = RoPE(head_dim=8, base=10000.0)
    q, k = torch.randn(1, 1, 1, 8, **F64), torch.randn(1, 1, 1, 8, **F64)
    scores = [float((rotate(q, p, rope) * rotate(k, 0, rope)).sum()) for p in range(4)]
    assert len(set(scores)) == 4


def test_rope_preserves_norms_and_leaves_position_zero_unchanged():
    rope = RoPE(head_dim=16, base=10000.0)
    x = torch.randn(2, 3, 50, 16, **F64)
    cos, sin = rope.rotary(torch.arange(50) * 37)
    rotated = apply_rotary(x, cos, sin)
    assert_close(rotated.norm(dim=-1), x.norm(dim=-1), "norms")
    assert_close(rotated[:, :, 0], x[:, :, 0], "position 0")


def test_attention_with_rope_is_invariant_to_shifting_all_positions():
    """Queries and keys are both rotated, so moving the whole sequence by s changes no score."""
    cfg = BlockConfig(d_model=16, n_heads=2, pos_encoding="rope")
    attn, rope = MultiHeadAttention(cfg).double().eval(), RoPE(cfg.head_dim, cfg.pos_base)
    x = torch.randn(2, 6, 16, **F64)
    pos = torch.arange(6)
    out = attn(x, rope=rope.rotary(pos), pos=pos, is_causal=True, need_weights=True)
    shifted = attn(x, rope=rope.rotary(pos + 777), pos=pos + 777, is_causal=True, need_weights=True)
    assert_close(shifted[1], out[1], "attention weights")
    assert_close(shifted[0], out[0], "output")
    unrotated = attn(x, pos=pos, is_causal=True, need_weights=True)
    assert not torch.allclose(unrotated[1], out[1]), "RoPE must change the weights"


# --------------------------------------------------------------------------- per-token positions
def test_per_token_positions_pick_table_rows_for_each_row_of_the_batch():
    positions = torch.tensor([[0, 3, 3, 1], [5, 4, 0, 2]])
    for pe in ("learned", "sinusoidal"):
        model = tiny_gpt(pos_encoding=pe)
        _, cache = model.run_with_cache(torch.zeros(2, 4, dtype=torch.long), positions=positions,
                                        names=["embed.hook_embed", "embed.hook_pos_embed"])
        added = cache["embed.hook_pos_embed"] - cache["embed.hook_embed"]  # (B, T, D)
        table = model.embed.pos.table.weight if pe == "learned" else model.embed.pos.table
        assert_close(added, table[positions].to(added.dtype), pe)


@pytest.mark.parametrize("pe", ["rope", "alibi", "t5", "none"])
def test_encodings_that_read_the_sequence_refuse_per_token_positions(pe):
    model = tiny_gpt(pos_encoding=pe)
    with pytest.raises(BlocklabError, match=f"pos_encoding='{pe}' .* per-token positions .* 'abacus'"):
        model(torch.zeros(1, 4, dtype=torch.long), positions=torch.zeros(1, 4, dtype=torch.long))


@pytest.mark.parametrize("pe", TASK_POSITIONS)
def test_digit_place_encodings_need_positions_of_the_tokens_shape(pe):
    model = tiny_gpt(pos_encoding=pe)
    with pytest.raises(BlocklabError, match="positions=...") as err:
        model(torch.zeros(1, 4, dtype=torch.long))
    assert "digit_positions" in str(err.value)
    with pytest.raises(BlocklabError, match=r"shape of the tokens, \(1, 4\)"):
        model(torch.zeros(1, 4, dtype=torch.long), positions=torch.zeros(1, 3, dtype=torch.long))


def abacus_offsets(model, positions: torch.Tensor) -> torch.Tensor:
    """The table rows the embedding used, read back through the hooks: (B, T) long."""
    _, cache = model.run_with_cache(torch.zeros_like(positions), positions=positions,
                                    names=["embed.hook_embed", "embed.hook_pos_embed"])
    added = cache["embed.hook_pos_embed"] - cache["embed.hook_embed"]  # (B, T, D)
    table = model.embed.pos.table.weight
    return ((added[:, :, None, :] - table[None, None]).abs().sum(-1) < 1e-12).float().argmax(-1)


@pytest.mark.parametrize("pe", TASK_POSITIONS)
def test_abacus_offset_shifts_digits_only_during_training_by_one_draw_per_sequence(pe):
    k = 5
    model = tiny_gpt(pos_encoding=pe, pos_offset_max=k)
    positions = torch.tensor([[1, 2, 0, 1, 2, 3, 0, 1]]).repeat(64, 1)  # 2 digits + 3 digits = 4 digits
    assert torch.equal(abacus_offsets(model, positions), positions), "eval: the task's indices as given"
    model.train()
    torch.manual_seed(3)
    rows = abacus_offsets(model, positions)
    shift = rows - positions
    assert (rows[positions == 0] == 0).all(), "non-digits keep row 0"
    assert (shift[positions > 0].view(64, -1) == shift[:, :1]).all(), "one offset per sequence"
    assert set(shift[:, 0].tolist()) == set(range(k + 1)), "offsets drawn from [0, k], each seen in 64 draws"
    torch.manual_seed(3)
    assert torch.equal(abacus_offsets(model, positions), rows), "the seed reproduces the offsets"


# --------------------------------------------------------------------------- randomized positions
def test_randomized_positions_are_sorted_distinct_in_range_and_reproducible():
    embed = tiny_gpt(pos_encoding="rope", pos_randomize_max=40).embed.train()
    torch.manual_seed(7)
    draws = [embed.positions(0, 12, torch.device("cpu")) for _ in range(50)]
    for pos in draws:
        assert (pos.diff() > 0).all(), "strictly increasing: sorted and distinct"
        assert 0 <= int(pos.min()) and int(pos.max()) < 40
    assert len({tuple(p.tolist()) for p in draws}) == 50, "a fresh subset every pass"
    assert len(set(torch.cat(draws).tolist())) == 40, "every position below the maximum gets used"
    torch.manual_seed(7)
    assert torch.equal(embed.positions(0, 12, torch.device("cpu")), draws[0]), "the seed reproduces the draw"
    assert torch.equal(embed.positions(3, 5, torch.device("cpu"), cached=True), torch.arange(3, 8)), "KV cache"
    assert torch.equal(embed.eval().positions(0, 12, torch.device("cpu")), torch.arange(12)), "evaluation"
    with pytest.raises(BlocklabError, match="pos_randomize_max=40"):
        embed.train().positions(0, 41, torch.device("cpu"))


def draw_and_train_pass(model, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions a training pass draws, and its logits: the same seed before each."""
    torch.manual_seed(1)
    drawn = model.embed.train().positions(0, idx.shape[1], idx.device)
    torch.manual_seed(1)
    return drawn, model.train()(idx)


@pytest.mark.parametrize("pe", ["learned", "sinusoidal"])
def test_randomized_training_pass_equals_a_pass_at_the_drawn_positions(pe):
    """The draw is what the encoding reads: a training pass (dropout 0) equals an evaluation pass
    given the same positions explicitly."""
    model, idx = tiny_gpt(pos_encoding=pe, pos_randomize_max=30), torch.randint(0, 13, (2, 8))
    drawn, trained = draw_and_train_pass(model, idx)
    assert not torch.equal(drawn, torch.arange(8))
    assert_close(trained, model.eval()(idx, positions=drawn.expand(2, -1)), "training pass")


@pytest.mark.parametrize("pe", ["alibi", "t5", "kerple", "fire", "rope"])
def test_randomized_positions_reach_biases_and_rotations(pe):
    """Attention-side encodings read the drawn positions too: the training pass equals one where the
    same positions are fed to every layer's context by hand."""
    model, idx = tiny_gpt(pos_encoding=pe, pos_randomize_max=30, fire_width=4), torch.randint(0, 13, (2, 8))
    drawn, trained = draw_and_train_pass(model, idx)
    model.eval()
    ctx = model.embed.context(drawn, is_causal=True)
    x = model.embed(idx, torch.arange(8))
    for block in model.blocks:
        x = block(x, ctx)
    assert_close(trained, model.lm_head(model.norm_f(x)), "training pass")
    assert not torch.allclose(trained, model(idx)), "evaluation uses 0..T-1, and it must matter"


# --------------------------------------------------------------------------- compiled
def compile_case(pe: str) -> tuple[dict, dict]:
    """Config changes and forward kwargs for one encoding (digit places need positions)."""
    if pe in TASK_POSITIONS:
        return {"pos_offset_max": 3}, {"positions": torch.randint(0, 5, (2, 8))}
    return {}, {}


# Every encoding on the fused path; the explicit path once per place an encoding acts (embedding,
# bias, rotation, nothing): the bias and embedding variants differ only before attention (~1 s each).
COMPILE_CASES = [(pe, True) for pe in POS_ENCODINGS] + [(pe, False) for pe in ("learned", "sinusoidal", "alibi",
                                                                              "fire", "rope", "none")]


@pytest.mark.parametrize("pe, fused", COMPILE_CASES)
def test_every_encoding_traces_as_one_compiled_graph(pe, fused):
    """torch.compile(fullgraph=True) fails on a graph break, such as a branch on a tensor's value."""
    changes, kwargs = compile_case(pe)
    model = set_fused(GPT(GPTConfig(vocab_size=11, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8,
                                    pos_encoding=pe, **changes)), fused).eval()
    idx = torch.randint(0, 11, (2, 8))
    torch.compiler.reset()  # each case compiles the same forward afresh; dynamo caps recompiles per function
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(idx, **kwargs), model(idx, **kwargs))


@pytest.mark.parametrize("pe", ["rope", "abacus"])
def test_randomized_and_offset_training_passes_trace_as_one_compiled_graph(pe):
    """The training-only draws (random subsets, Abacus offsets) compile too, and draw the same numbers."""
    changes, kwargs = compile_case(pe)
    if pe not in TASK_POSITIONS:
        changes = {"pos_randomize_max": 20}
    model = GPT(GPTConfig(vocab_size=11, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=20,
                          pos_encoding=pe, **changes)).train()
    idx = torch.randint(0, 11, (2, 8))
    torch.compiler.reset()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    torch.manual_seed(5)
    out = compiled(idx, **kwargs)
    torch.manual_seed(5)
    torch.testing.assert_close(out, model(idx, **kwargs))
