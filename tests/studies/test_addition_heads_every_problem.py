"""addition-heads on every problem: the scoring the study stores, the nine/match pairs of the relay
analysis, and the tables and claim note built from them."""
import pytest
import torch

from blocklab.studies.addition_heads import nines, study
from blocklab.studies.addition_heads.every_problem import FAILURES_KEPT, FAILURES_SHOWN, tables
from blocklab.studies.addition_heads.model import build, greedy
from blocklab.tasks.addition import CHAINS, answer_value, carry_chain, columns, operands
from blocklab.tasks.addition_exhaustive import score_all

from .isolated import run_isolated


def tiny():
    torch.manual_seed(0)
    return build("seq2seq", d_model=8, n_heads=2, layers=1, gpt_layers=1, init_std=0.5).eval()


@pytest.mark.parametrize("order", ["natural", "reversed"])
def test_nine_pairs_differ_only_in_how_the_tens_carry(order):
    nine, match = nines.nine_pairs(200, seed=0, order=order)
    (a, b), (a2, b2) = operands(nine[0]), operands(match[0])
    s, c = columns(a, b)
    s2, c2 = columns(a2, b2)
    assert (s[:, 1] == 9).all() and (s2[:, 1] == 10).all() and (c[:, 0] == 1).all()
    assert torch.equal(c, c2) and torch.equal(s[:, [0, 2]], s2[:, [0, 2]])  # same carries, other columns alike
    assert (carry_chain(a, b) == CHAINS.index("one_nine")).all()
    assert torch.equal(answer_value(match[1], order) - answer_value(nine[1], order), torch.full((200,), 10))
    assert len(set((1000 * a + b).tolist())) == 200


def test_relay_heads_scores_every_head_and_a_head_against_itself_shifts_nothing():
    m = tiny()
    r = nines.relay_heads(m, "natural", n=40)
    assert set(r["drop"]) == set(r["shift"]) and len(r["drop"]) == 6
    nine, _ = nines.nine_pairs(40, 0, "natural")
    assert all(v == 0 for v in nines.attention_shift(m, nine, nine, "natural").values())
    assert all(0 <= v <= 1 for v in r["shift"].values()) and any(v > 0 for v in r["shift"].values())


def test_every_problem_stores_the_summary_and_its_cpu_time():
    m, pairs = tiny(), torch.arange(0, 10**6, 997)
    got = study.every_problem(m, "reversed", pairs=pairs)
    want = score_all(lambda b: greedy(m, b), "reversed", pairs=pairs).summary(FAILURES_KEPT)
    assert {k: v for k, v in got.items() if k != "cpu_seconds"} == want and got["cpu_seconds"] > 0
    assert len(got["failures"]) == min(FAILURES_KEPT, got["wrong"])


def test_a_tiny_run_scored_on_a_subset_fills_the_tables_and_the_claim(tmp_path, monkeypatch):
    pairs = torch.arange(0, 10**6, 4999)
    score = study.every_problem
    monkeypatch.setattr(study, "every_problem", lambda model, order: score(model, order, pairs=pairs))
    overrides = {"train.steps": 2, "train.warmup_steps": 2, "train.eval_every": 2, "train.batch_size": 16,
                 "n_train": 64, "n_val": 16, "n_test": 32, "d_model": 8, "n_heads": 2, "layers": 1,
                 "beam_sizes": [1], "nine_share": 0.5, "exhaustive": True}
    _, results = run_isolated("addition-heads", out=tmp_path, seeds=2, overrides=overrides)
    assert {r["status"] for r in results["runs"]} == {"done"}
    runs = [r["metrics"] for r in results["runs"]]
    assert all(m["exhaustive"]["n"] == len(pairs) and "nines" in m for m in runs)
    shown = {t.title: t for t in tables(results)}
    assert len(shown) == 4
    rates = shown["Every problem: greedy exact match on all 10^6 sums, beside the held-out set"]
    assert [row[1] for row in rates.rows] == [0, 1, "all"]
    chains = shown["Exact match (%) on all 10^6 problems by carry chain"]
    assert [row[1] for row in chains.rows] == [f"{int(n):,}" for n in torch.bincount(
        carry_chain(pairs // 1000, pairs % 1000), minlength=4).tolist()]
    listed = shown["The wrong answers among all 10^6 problems"].rows
    for m, seed in zip(runs, (0, 1)):
        mine = [row for row in listed if row[1] == seed]
        wrong, kept = m["exhaustive"]["wrong"], len(m["exhaustive"]["failures"])
        assert len(mine) == min(wrong, FAILURES_SHOWN) + (wrong > FAILURES_SHOWN or wrong == 0)
        assert kept == min(wrong, FAILURES_KEPT)
    relay = shown["Where carries through a 9 fail: the heads that pass the carry on"]
    assert relay.rows[-1][1].startswith("none ablated")
    every = [m for m in results["measurements"] if m["part"] == "greedy exact match, all 10^6 problems"]
    assert len(every) == 1 and every[0]["claim_id"] == "C002-01" and "wrong" in every[0]["note"]
