"""Addition: carries, both answer orders, the encodings a model reads, and held-out pairs."""
import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.tasks import addition
from blocklab.tasks.addition import EQUALS, PLUS, answer_value, carry_chain, count_carries, operands


def carries_by_hand(a: int, b: int) -> int:
    """Column addition on the decimal strings, as taught in school."""
    x, y, carry, count = f"{a:03d}", f"{b:03d}", 0, 0
    for i in (2, 1, 0):
        carry = (int(x[i]) + int(y[i]) + carry) // 10
        count += carry
    return count


def test_carries_on_known_sums_and_against_column_addition():
    a = torch.tensor([999, 123, 555, 15, 50, 0, 95])
    b = torch.tensor([1, 456, 445, 5, 50, 0, 5])
    assert count_carries(a, b).tolist() == [3, 0, 3, 1, 1, 0, 2]
    g = torch.Generator().manual_seed(0)
    a, b = torch.randint(0, 1000, (500,), generator=g), torch.randint(0, 1000, (500,), generator=g)
    assert count_carries(a, b).tolist() == [carries_by_hand(x, y) for x, y in zip(a.tolist(), b.tolist())]


@pytest.mark.parametrize("order", ["natural", "reversed"])
def test_answers_and_model_inputs(order):
    d = addition(300, 0, 0, seed=1, order=order)
    src, tgt, dec_in, carries, seq = d.splits["train"]
    a, b = operands(src)
    assert torch.equal(answer_value(tgt, order), a + b)
    assert (src[:, 3] == PLUS).all() and (dec_in[:, 0] == EQUALS).all() and torch.equal(dec_in[:, 1:], tgt[:, :-1])
    assert torch.equal(seq, torch.cat([src, dec_in[:, :1], tgt], dim=1))
    assert torch.equal(carries, count_carries(a, b))
    units = (a + b) % 10
    assert torch.equal(tgt[:, 0 if order == "reversed" else 3], units)


def test_both_orders_write_the_same_digits_reversed():
    nat, rev = addition(50, 0, 0, seed=2, order="natural"), addition(50, 0, 0, seed=2, order="reversed")
    assert torch.equal(nat.splits["train"][0], rev.splits["train"][0])
    assert torch.equal(nat.splits["train"][1].flip(1), rev.splits["train"][1])


def test_held_out_pairs_never_meet_training_and_are_fixed_by_test_seed():
    def pairs(d, split):
        a, b = operands(d.splits[split][0])
        return set(zip(a.tolist(), b.tolist()))

    one, two = addition(20000, 1000, 2000, seed=0), addition(20000, 1000, 2000, seed=1)
    for d in (one, two):
        train, val, test = pairs(d, "train"), pairs(d, "val"), pairs(d, "test")
        assert len(train) == 20000 and len(val) == 1000 and len(test) == 2000  # no pair twice within a split
        assert not (train & test) and not (val & test) and not (train & val)
    assert pairs(one, "test") == pairs(two, "test") and pairs(one, "train") != pairs(two, "train")
    assert pairs(addition(0, 0, 2000, seed=0, test_seed=1), "test") != pairs(one, "test")


def test_mistakes_read_as_numbers_in_natural_order():
    d = addition(0, 0, 3, seed=0, order="reversed")
    src, tgt = d.splits["test"][:2]
    pred = tgt.clone()
    pred[1, 0] = (pred[1, 0] + 1) % 10  # the units digit, written first in reversed order
    a, b = operands(src[1:2])
    truth = int(a + b)
    said = truth - truth % 10 + (truth + 1) % 10
    assert d.mistakes("test", pred) == [f"{int(a)} + {int(b)}: model says {said}, truth {truth}"]
    pred[1, 0] = EQUALS
    assert "?" in d.mistakes("test", pred)[0]


def test_bad_order_names_the_choices():
    with pytest.raises(BlocklabError, match="'natural', 'reversed'"):
        addition(10, 0, 0, seed=0, order="backwards")


def test_nine_share_sets_the_share_of_carries_through_a_nine_and_leaves_val_and_test_alone():
    uniform, tilted = addition(20000, 500, 1000, seed=3), addition(20000, 500, 1000, seed=3, nine_share=0.3)

    def nines(d, split):
        a, b = operands(d.splits[split][0])
        return (carry_chain(a, b) >= 2).double().mean().item()

    assert nines(tilted, "train") == pytest.approx(0.3, abs=1e-9)
    assert 0.08 < nines(uniform, "train") < 0.10  # 90,000 of the 10^6 problems
    for split in ("val", "test"):
        assert all(torch.equal(p, q) for p, q in zip(uniform.splits[split], tilted.splits[split]))
    a, b = operands(tilted.splits["train"][0])
    train = set((1000 * a + b).tolist())
    a, b = operands(torch.cat([tilted.splits["val"][0], tilted.splits["test"][0]]))
    assert len(train) == 20000 and not train & set((1000 * a + b).tolist())


@pytest.mark.parametrize("share, n_train, field", [(1.5, 100, "nine_share=1.5"), (1.0, 95000, "needs 95000")])
def test_nine_share_errors_name_the_problem(share, n_train, field):
    with pytest.raises(BlocklabError, match=field):
        addition(n_train, 0, 0, seed=0, nine_share=share)
