"""Learned relative biases (T5, KERPLE-log, FIRE) against hand computations and their invariants.

WHAT: T5's buckets and each bias match values worked out by hand; T5, KERPLE and ALiBi
depend only on offsets, so shifting queries and keys together changes nothing; FIRE's
input is psi(i - j) / psi(max(L, i)) in [0, 1]; the learned parameters get the gradients
float64 finite differences give, on the explicit and the fused attention path.
WHY: an off-by-one bucket, a sign flip of i - j or a bias broadcast over the wrong axis
trains to plausible losses and quietly changes what a length-generalization study measures.
"""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.nn import ALiBi, BlockConfig, MultiHeadAttention
from blocklab.nn.attention import set_fused
from blocklab.nn.relative_bias import Fire, KerpleLog, T5Bias, t5_buckets

from .helpers import assert_close, tiny_gpt

F64 = {"dtype": torch.float64}
H = 4


# --------------------------------------------------------------------------- T5 buckets
def test_t5_causal_buckets_by_hand():
    """8 buckets up to distance 20, causal: distances 0-3 exact; then 4 + floor(4 log(n/4) / log 5),
    e.g. n = 5: 4 + floor(0.55) = 4; n = 6: 4 + floor(1.01) = 5; n = 9: 4 + floor(2.02) = 6;
    n = 19: 4 + floor(3.87) = 7; from 20 on the last bucket, 7.
    Keys after the query (n < 0) fall in bucket 0: the causal mask hides them."""
    distance = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 19, 20, 1000, -3])
    expected = [0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7, 0]
    assert t5_buckets(-distance, 8, 20, causal=True).tolist() == expected


def test_t5_bidirectional_buckets_by_hand():
    """8 buckets in two halves: the past in 0-3, the future in 4-7; each half has 2 exact distances,
    then 2 + floor(2 log(n/2) / log 10): n = 5 -> 2 + floor(0.80) = 2; n = 7 -> 3; n >= 20 -> 3."""
    offset = torch.tensor([0, -1, -2, -5, -7, -20, 1, 2, 5, 7, 50])  # j - i
    expected = [0, 1, 2, 2, 3, 3, 5, 6, 6, 7, 7]
    assert t5_buckets(offset, 8, 20, causal=False).tolist() == expected


def reference_t5_bucket(offset: int, n_buckets: int, max_distance: int, causal: bool) -> int:
    """T5's scheme for one offset j - i, with Python floats."""
    n, base = -offset, 0
    if causal:
        n = max(n, 0)
    else:
        n_buckets //= 2
        base = n_buckets if n < 0 else 0
        n = abs(n)
    exact = n_buckets // 2
    if n < exact:
        return base + n
    return base + min(n_buckets - 1, exact + int(math.log(n / exact) / math.log(max_distance / exact)
                                                   * (n_buckets - exact)))


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("n_buckets, max_distance", [(32, 128), (8, 20), (4, 3)])
def test_t5_buckets_match_the_scalar_formula_for_every_offset(causal, n_buckets, max_distance):
    offsets = torch.arange(-300, 301)
    got = t5_buckets(offsets, n_buckets, max_distance, causal).tolist()
    assert got == [reference_t5_bucket(o, n_buckets, max_distance, causal) for o in offsets.tolist()]


def test_t5_bias_reads_the_table_row_of_each_bucket():
    enc = T5Bias(n_heads=2, n_buckets=8, max_distance=20, causal=True)
    with torch.no_grad():
        enc.table.weight.copy_(torch.arange(16.0).view(8, 2))  # bucket b, head h -> 2b + h
    bias = enc.bias(torch.tensor([10]), torch.tensor([0, 3, 9, 10]))  # distances 10, 7, 1, 0 -> buckets 6, 5, 1, 0
    buckets = torch.tensor([6.0, 5.0, 1.0, 0.0])
    torch.testing.assert_close(bias, torch.stack([2 * buckets, 2 * buckets + 1])[:, None, :])


# --------------------------------------------------------------------------- KERPLE
def test_kerple_bias_by_hand():
    enc = KerpleLog(n_heads=2).double()
    with torch.no_grad():
        enc.log_r1.copy_(torch.tensor([math.log(2.0), 0.0], **F64))  # r1 = 2, 1
        enc.log_r2.copy_(torch.tensor([math.log(0.5), math.log(3.0)], **F64))  # r2 = 0.5, 3
    bias = enc.bias(torch.tensor([3]), torch.tensor([0, 2, 3]))  # distances 3, 1, 0
    expected = torch.tensor([[-2 * math.log(2.5), -2 * math.log(1.5), 0.0],
                             [-math.log(10.0), -math.log(4.0), 0.0]], **F64)
    assert_close(bias[:, 0], expected, "-r1 log(1 + r2 |i - j|)")


def test_kerple_bias_never_rewards_distance_whatever_its_parameters():
    """r1, r2 > 0 by construction: the bias is <= 0 and falls with distance for any parameter values."""
    enc = KerpleLog(n_heads=H).double()
    with torch.no_grad():
        enc.log_r1.uniform_(-5, 5)
        enc.log_r2.uniform_(-5, 5)
    bias = enc.bias(torch.tensor([40]), torch.arange(41))[:, 0]  # (H, 41): distance 40 .. 0
    assert (bias <= 0).all()
    assert (bias.diff(dim=-1) > 0).all(), "closer keys get a larger bias"


# --------------------------------------------------------------------------- FIRE
def fire(c: float, threshold: float) -> Fire:
    enc = Fire(n_heads=2, width=3).double()
    with torch.no_grad():
        enc.log_c.fill_(math.log(c))
        enc.log_threshold.fill_(math.log(threshold))
    return enc


def test_fire_normalized_distance_by_hand():
    """psi(x) = log(c x + 1); with c = 1, L = 4: (i, j) = (2, 0) -> log 3 / log 5 (i < L: L normalizes);
    (8, 2) -> log 7 / log 9 (i > L: i normalizes); (3, 3) -> 0. With c = 0.5: (8, 2) -> log 4 / log 5."""
    x = fire(1.0, 4.0).normalized_distance(torch.tensor([2, 8, 3]), torch.tensor([0, 2, 3]))
    assert_close(torch.diagonal(x), torch.tensor([math.log(3) / math.log(5), math.log(7) / math.log(9), 0.0], **F64),
                 "c = 1")
    x = fire(0.5, 4.0).normalized_distance(torch.tensor([8]), torch.tensor([2]))
    assert_close(x[0, 0], torch.tensor(math.log(4) / math.log(5), **F64), "c = 0.5")


def test_fire_inputs_lie_in_unit_interval_and_reach_one_at_the_first_key_past_the_threshold():
    """The point of FIRE's normalization: any length maps visible keys into [0, 1], so long inputs
    ask the MLP nothing it was not trained on."""
    enc = fire(0.1, 16.0)
    pos = torch.arange(2000)
    for i in (0, 5, 15, 16, 100, 1999):
        x = enc.normalized_distance(pos[i:i + 1], pos[: i + 1])[0]  # keys 0..i
        assert ((x >= 0) & (x <= 1)).all()
        assert x[-1] == 0, "the query itself is at distance 0"
        if i >= 16:
            assert_close(x[0], torch.tensor(1.0, **F64), f"first key of query {i}")
        else:
            assert x[0] < 1, "below the threshold, L normalizes and the first key stays under 1"


def test_fire_bias_is_the_mlp_of_the_normalized_distance():
    enc = fire(1.0, 4.0)
    with torch.no_grad():
        first, last = enc.mlp[0], enc.mlp[2]
        first.weight.copy_(torch.tensor([[1.0], [-1.0], [2.0]]))
        first.bias.copy_(torch.tensor([0.0, 0.5, -1.0]))
        last.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, -1.0]]))
        last.bias.copy_(torch.tensor([0.0, 0.25]))
    x = math.log(7) / math.log(9)  # (i, j) = (8, 2)
    hidden = [max(0.0, x), max(0.0, 0.5 - x), max(0.0, 2 * x - 1)]
    expected = torch.tensor([sum(hidden), 2 * hidden[1] - hidden[2] + 0.25], **F64)
    assert_close(enc.bias(torch.tensor([8]), torch.tensor([2]))[:, 0, 0], expected, "f_h(x)")


# --------------------------------------------------------------------------- offsets only
def relative_encodings() -> dict[str, torch.nn.Module]:
    kerple = KerpleLog(H).double()
    with torch.no_grad():
        kerple.log_r1.uniform_(-1, 1)
    t5_causal, t5_both = T5Bias(H, 32, 128, causal=True).double(), T5Bias(H, 32, 128, causal=False).double()
    for t5 in (t5_causal, t5_both):
        torch.nn.init.normal_(t5.table.weight)
    return {"alibi": ALiBi(H).double(), "kerple": kerple, "t5-causal": t5_causal, "t5-bidirectional": t5_both}


@pytest.mark.parametrize("name", ["alibi", "kerple", "t5-causal", "t5-bidirectional"])
@pytest.mark.parametrize("shift", [1, 13, 1000])
def test_relative_bias_depends_only_on_the_offset(name, shift):
    enc = relative_encodings()[name]
    q, k = torch.arange(20, 30), torch.arange(0, 40)
    assert_close(enc.bias(q + shift, k + shift), enc.bias(q, k), f"{name} shifted by {shift}")
    bias = enc.bias(q, k)
    assert len(bias[0].unique()) > 5, "the bias must vary with the offset, or the test above proves nothing"


def test_fire_is_shift_invariant_below_its_threshold_and_normalized_above():
    """Below L every query is normalized by psi(L), a constant, so only i - j matters; past L the
    same offset means less at a later query: the interpolation FIRE trades shift invariance for."""
    enc = fire(0.1, 64.0)
    torch.nn.init.normal_(enc.mlp[0].weight)
    torch.nn.init.normal_(enc.mlp[2].weight)
    q, k = torch.arange(10, 20), torch.arange(0, 20)
    assert_close(enc.bias(q + 30, k + 30), enc.bias(q, k), "window inside [0, L)")
    assert not torch.allclose(enc.bias(q + 300, k + 300), enc.bias(q, k))


@pytest.mark.parametrize("pos_encoding", ["t5", "kerple", "alibi"])
def test_attention_with_a_relative_bias_is_invariant_to_shifting_all_positions(pos_encoding):
    from blocklab.nn.embed import build_positional

    cfg = BlockConfig(d_model=16, n_heads=H, pos_encoding=pos_encoding)
    attn, enc = MultiHeadAttention(cfg).double().eval(), build_positional(cfg, causal=True).double()
    x, pos = torch.randn(2, 6, 16, **F64), torch.arange(6)
    out, weights = attn(x, bias=enc.bias(pos, pos), pos=pos, is_causal=True, need_weights=True)
    shifted, shifted_weights = attn(x, bias=enc.bias(pos + 500, pos + 500), pos=pos + 500, is_causal=True,
                                    need_weights=True)
    assert_close(shifted_weights, weights, "weights")
    assert_close(shifted, out, "output")


# --------------------------------------------------------------------------- gradients
def finite_difference(loss_of, param: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    grad = torch.zeros_like(param)
    flat, out = param.data.view(-1), grad.view(-1)
    for n in range(flat.numel()):
        keep = flat[n].item()
        flat[n] = keep + eps
        up = loss_of()
        flat[n] = keep - eps
        down = loss_of()
        flat[n] = keep
        out[n] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("pos_encoding", ["t5", "kerple", "fire"])
def test_learned_bias_gradients_match_finite_differences(pos_encoding, fused):
    """Through a whole GPT, against one random upstream gradient (a .sum() would zero softmax's)."""
    model = set_fused(tiny_gpt(pos_encoding=pos_encoding, t5_buckets=8, t5_max_distance=12, fire_width=4,
                               n_layers=1, max_len=6), fused)
    params = dict(model.embed.pos.named_parameters())
    for p in params.values():
        torch.nn.init.normal_(p, std=0.5)  # T5's and FIRE's init_std 0.02 would make the bias near zero
    if pos_encoding == "fire":
        with torch.no_grad():
            # queries on both sides of L (no i at the kink): both branches of max
            model.embed.pos.log_threshold.fill_(math.log(2.5))
    idx = torch.randint(0, 13, (2, 6))
    upstream = torch.randn(2, 6, 13, **F64)

    def loss() -> torch.Tensor:
        return (model(idx) * upstream).sum()

    loss().backward()
    assert params, "the encoding must have parameters"
    for name, p in params.items():
        with torch.no_grad():
            expected = finite_difference(lambda: loss().item(), p)
        # FIRE's output bias adds one constant per head to every score of a row, which softmax ignores.
        redundant = pos_encoding == "fire" and name == "mlp.2.bias"
        assert redundant or expected.abs().max() > 1e-6, f"{name}: finite differences are all zero"
        torch.testing.assert_close(p.grad, expected, rtol=1e-5, atol=1e-7, msg=lambda m, name=name: f"{name}: {m}")
