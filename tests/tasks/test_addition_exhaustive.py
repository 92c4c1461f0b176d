"""Exhaustive addition: carry chains by hand, the scorer on known adders, and on tiny models
against a one-problem-at-a-time loop."""
import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import GPTConfig, Seq2SeqConfig
from blocklab.nn.models.gpt import GPT
from blocklab.nn.models.seq2seq import Seq2SeqTransformer
from blocklab.tasks.addition import ANSWER_LEN, EQUALS, N_PAIRS, VOCAB, digits, encode, say
from blocklab.tasks.addition_exhaustive import CHAINS, carry_chain, chain_counts, score_all, zero_failure_bound


def chain_by_hand(a: int, b: int) -> str:
    """School column addition on the digit strings, counting 9-columns that a carry passes through."""
    x, y, carry, carried, through = f"{a:03d}", f"{b:03d}", 0, False, 0
    for i in (2, 1, 0):
        s = int(x[i]) + int(y[i])
        through += s == 9 and carry == 1
        carry = (s + carry) // 10
        carried = carried or carry == 1
    return CHAINS[1 + through] if carried else "none"


def test_carry_chain_on_hand_worked_examples():
    cases = {(45, 555): "one_nine",  # units 5+5 carry; tens 4+5 = 9 passes it on: 600
             (49, 929): "single",  # units 9+9 carry into tens 4+2; hundreds sum to 9 but receive nothing
             (55, 45): "one_nine",  # tens 5+4 = 9 passes the units' carry: 100
             (145, 955): "one_nine",  # tens 4+5 = 9 passes it; hundreds 1+9 carry on their own: 1100
             (106, 307): "single",  # the units' carry lands in a 0-column: 413
             (5, 995): "two_nines", (999, 1): "two_nines", (123, 456): "none", (55, 55): "single", (0, 0): "none"}
    a, b = (torch.tensor(v) for v in zip(*cases))
    assert [CHAINS[i] for i in carry_chain(a, b)] == list(cases.values())
    g = torch.Generator().manual_seed(0)
    a, b = torch.randint(0, 1000, (2000,), generator=g), torch.randint(0, 1000, (2000,), generator=g)
    assert [CHAINS[i] for i in carry_chain(a, b)] == [chain_by_hand(x, y) for x, y in zip(a.tolist(), b.tolist())]


def test_chain_counts_match_counting_digit_pairs():
    """55 of the 100 digit pairs sum to <= 9, 10 to exactly 9, 45 to >= 10 (see the module docstring)."""
    counts = chain_counts()
    assert counts == {"none": 55**3, "two_nines": 45 * 10 * 10, "one_nine": 45 * 10 * 90 + 100 * 45 * 10,
                      "single": N_PAIRS - 55**3 - 4500 - 85500}


def test_zero_failure_bound_is_the_exact_binomial_one_near_the_rule_of_three():
    n = N_PAIRS
    p = zero_failure_bound(n)
    assert (1 - p) ** n == pytest.approx(0.05, rel=1e-9)  # P(no failure | error rate p) is 5%
    assert 2.99e-6 < p < 3e-6


@pytest.mark.parametrize("order", ["natural", "reversed"])
def test_a_true_adder_has_no_failure_and_reports_the_bound(order):
    r = score_all(lambda batch: batch[1], order, batch_size=300_000)
    s = r.summary()
    assert s["n"] == N_PAIRS and s["wrong"] == 0 and s["exact_match"] == 100.0 and s["failures"] == []
    assert s["error_bound_95"] == zero_failure_bound(N_PAIRS)
    assert {k: v["n"] for k, v in s["by_chain"].items()} == chain_counts()


def dropping_adder(order: str):
    """Adds column by column but carries only out of columns whose digits sum to 10 or more:
    a carry into a 9-column is lost, the mistake the issue found (45 + 555 -> 500)."""
    def answer(batch):
        src = batch[0]
        a, b = src[:, :3].flip(1), src[:, 4:].flip(1)  # (B, 3) units first
        s = a + b
        generated = torch.cat([torch.zeros_like(s[:, :1]), (s >= 10).long()], dim=1)  # (B, 4) carry into each column
        value = sum(((torch.cat([s, torch.zeros_like(s[:, :1])], 1)[:, c] + generated[:, c]) % 10) * 10**c
                    for c in range(4))
        out = digits(value, ANSWER_LEN)
        return out.flip(1) if order == "reversed" else out
    return answer


@pytest.mark.parametrize("order", ["natural", "reversed"])
def test_an_adder_that_drops_carries_through_nines_fails_exactly_those(order):
    r = score_all(dropping_adder(order), order, batch_size=400_000)
    s = r.summary(limit=3)
    by = s["by_chain"]
    assert [by[c]["accuracy"] for c in CHAINS] == [100.0, 100.0, 0.0, 0.0]
    assert s["wrong"] == 85500 + 4500 and s["error_bound_95"] is None
    assert s["exact_match"] == pytest.approx(100 * (1 - 90000 / N_PAIRS))
    # The smallest failing pair: 1 + 99, whose units' carry dies in the tens (like the issue's 55 + 45 -> 0).
    assert s["failures"][0] == {"a": 1, "b": 99, "truth": 100, "said": "0", "chain": "one_nine"}
    assert len(s["failures"]) == 3
    wrong = r.wrong
    assert torch.equal(torch.isin(carry_chain(wrong // 1000, wrong % 1000), torch.tensor([2, 3])),
                       torch.ones(wrong.numel(), dtype=torch.bool))
    i = (wrong == 45 * 1000 + 555).nonzero().item()
    assert say(r.said[i], order) == "500"


def tiny(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    common = {"vocab_size": VOCAB, "d_model": 16, "n_heads": 4, "d_ff": 32, "max_len": 12, "pos_encoding": "learned",
              "init_std": 0.5}
    m = (Seq2SeqTransformer(Seq2SeqConfig(**common, n_encoder_layers=1, n_decoder_layers=1)) if kind == "seq2seq"
         else GPT(GPTConfig(**common, n_layers=2)))
    return m.eval()


def greedy_answer(m):
    if isinstance(m, Seq2SeqTransformer):
        return lambda batch: m.greedy_decode(batch[0], EQUALS, ANSWER_LEN)
    return lambda batch: m.generate(batch[4][:, :8], ANSWER_LEN, temperature=0.0)[:, 8:]


@pytest.mark.parametrize("kind, order", [("seq2seq", "natural"), ("gpt", "reversed")])
def test_score_all_on_a_tiny_model_equals_a_per_problem_loop(kind, order):
    """WHAT: batched scoring of a subset, in uneven batches, agrees problem by problem with decoding
    each problem alone. WHY: catches batches misaligned with their pairs and answers kept for the
    wrong problems. Some answers are made right by a model that is told the answer half the time."""
    m = tiny(kind)
    decode = greedy_answer(m)
    pairs = torch.randperm(N_PAIRS, generator=torch.Generator().manual_seed(1))[:40]

    def half_right(batch):  # the true answer where a's units digit is even, the model's elsewhere
        return torch.where((batch[0][:, 2] % 2 == 0)[:, None], batch[1], decode(batch))

    r = score_all(half_right, order, pairs=pairs, batch_size=16)
    said = iter(r.said)
    for k, pair in enumerate(pairs.tolist()):
        one = encode(torch.tensor([pair // 1000]), torch.tensor([pair % 1000]), order)
        answer = half_right(one)[0]
        right = torch.equal(answer, one[1][0])
        assert bool(r.correct[k]) == right
        if not right:
            assert torch.equal(next(said), answer)
    assert 0 < int(r.correct.sum()) < len(pairs)
    assert next(said, None) is None


def test_score_all_rejects_an_unknown_order():
    with pytest.raises(BlocklabError, match="order.*natural"):
        score_all(lambda batch: batch[1], "backwards")
