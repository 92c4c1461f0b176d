"""Positional encodings against their papers: sinusoidal table, learned overflow, ALiBi slopes, RoPE.

The reference formulas are written here independently of the implementation, in float64.
"""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import ALiBi, BlockConfig, MultiHeadAttention, RoPE, Sinusoidal, alibi_slopes, apply_rotary

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


@pytest.mark.parametrize("pe", ["learned", "sinusoidal", "rope", "alibi", "none"])
@pytest.mark.parametrize("fused", [False, True])
def test_every_encoding_traces_as_one_compiled_graph(pe, fused):
    """torch.compile(fullgraph=True) fails on a graph break, such as a branch on a tensor's value."""
    from blocklab.nn import GPT, GPTConfig
    from blocklab.nn.attention import set_fused

    model = set_fused(GPT(GPTConfig(vocab_size=11, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=8,
                                    pos_encoding=pe)), fused).eval()
    idx = torch.randint(0, 11, (2, 8))
    torch.compiler.reset()  # each case compiles the same forward afresh; dynamo caps recompiles per function
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(idx), model(idx))
