"""The operations task: vocabulary ids as in the seed, right answers, equal shares per op,
the seed split that overlaps and the disjoint split that does not, held-out digits, and
parse errors that say what is wrong."""
import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.tasks.operations import OPS, VOCAB, answer_digits, apply_op, args_of, encode, operations, render


def test_vocabulary_ids_are_the_seeds():
    """WHY: the seed names 'Max' = 15, '6' = 8, '(' = 17; a shifted table would silently mislabel probes."""
    assert len(VOCAB) == 20
    assert (VOCAB.index("Max"), VOCAB.index("6"), VOCAB.index("("), VOCAB.index("Middle")) == (15, 8, 17, 1)
    assert [VOCAB.index(str(d)) for d in range(10)] == list(range(2, 12))


@pytest.mark.parametrize("op,args,answer", [("First", (5, 3, 9), 5), ("Second", (5, 3, 9), 3), ("Last", (5, 3, 9), 9),
                                            ("Max", (5, 3, 9), 9), ("Min", (7, 2, 9), 2), ("Max", (9, 9, 5), 9),
                                            ("Middle", (7, 1, 4), 4), ("Middle", (1, 6, 3, 8, 0), 3)])
def test_apply_op_known_values(op, args, answer):
    assert apply_op(op, args) == answer


def test_the_vectorized_answers_agree_with_apply_op():
    args = torch.randint(0, 10, (300, 5), generator=torch.Generator().manual_seed(0))
    for op in ("First", "Second", "Last", "Max", "Min", "Middle"):
        assert answer_digits(op, args).tolist() == [apply_op(op, a) for a in args.tolist()], op


def test_middle_of_an_even_count_is_an_error():
    with pytest.raises(BlocklabError, match="odd number"):
        apply_op("Middle", (1, 2))


def test_encode_and_render_are_inverse():
    ids = encode("Max(5,3,9)")
    assert ids == [15, 17, 7, 19, 5, 19, 11, 18]
    assert encode("  Max ( 5 , 3 ,9 ) ") == ids
    assert render(ids) == render(torch.tensor([*ids, 0, 0])) == "Max(5,3,9)"
    assert render(encode("Middle(0,0,1,2,3)")) == "Middle(0,0,1,2,3)"


@pytest.mark.parametrize("text,words", [
    ("Max(5,3", ["missing ')'", "Max(5,3"]),
    ("Foo(1,2,3)", ["unknown op 'Foo'", "First, Second, Last, Max, Min, Middle"]),
    ("Max(12,3,9)", ["'12'", "single digits 0-9"]),
    ("Max(a,3,9)", ["'a'", "single digits 0-9"]),
    ("Max(5,,9)", ["''", "single digits 0-9"]),
    ("", ["empty input"]),
    ("   ", ["empty input"]),
    ("Max 5,3,9)", ["missing '('"]),
])
def test_encode_errors_name_the_problem_and_the_input(text, words):
    with pytest.raises(BlocklabError) as err:
        encode(text)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_encode_checks_the_argument_count_when_asked():
    assert len(encode("Max(1,2)")) == 6
    with pytest.raises(BlocklabError, match="has 2 arguments; this model takes exactly 3"):
        encode("Max(1,2)", n_args=3)


def test_rows_are_well_formed_and_targets_right():
    """WHAT: every row parses back to its op and arguments, and the target is the answer's token id."""
    task = operations(500, 100, 100, seed=1)
    for split in ("train", "val", "test"):
        x, y, op = task.splits[split]
        assert x.shape == (len(y), 8) and task.n_classes == task.vocab_size == 20
        for row, target, k in zip(x[:200], y, op):
            text = render(row)
            assert encode(text) == row.tolist()
            assert text.startswith(OPS[k] + "(")
            assert VOCAB[int(target)] == str(apply_op(OPS[k], args_of(row[None])[0].tolist()))


def test_equal_share_per_op_in_every_split():
    task = operations(1000, 200, 205, seed=0)
    for split, n in (("train", 1000), ("val", 200), ("test", 205)):
        counts = torch.bincount(task.splits[split][2], minlength=5)
        assert counts.sum() == n and counts.max() - counts.min() <= 1, (split, counts)
    assert (task.splits["train"][0][:, 0] == torch.tensor([12, 13, 14, 15, 16])[task.splits["train"][2]]).all()


def _inputs(task, split):
    return {tuple(r) for r in task.splits[split][0].tolist()}


def test_seed_split_overlaps_training_and_disjoint_split_does_not():
    """WHY: 10k rows from 5,000 distinct inputs must repeat; the issue asks for both splits."""
    seed = operations(10000, 2000, 2000, seed=0, split="seed")
    seen = _inputs(seed, "train")
    overlap = sum(tuple(r) in seen for r in seed.splits["test"][0].tolist()) / 2000
    assert overlap > 0.75, overlap  # 1 - e^-2 ~ 0.86 of test rows appear in training
    disjoint = operations(10000, 2000, 2000, seed=0, split="disjoint")
    tr, va, te = (_inputs(disjoint, s) for s in ("train", "val", "test"))
    assert not tr & te and not tr & va and not va & te
    assert len(tr) + len(va) + len(te) <= 5000 and len(te) > 500


def test_held_out_digits_leave_train_and_val_and_fill_test():
    task = operations(2000, 500, 500, seed=2, held_out={"Max": (6,)})
    for split in ("train", "val", "test"):
        x, _, op = task.splits[split]
        has6 = (args_of(x[op == 3]) == 6).any(dim=1)
        assert bool(has6.all()) if split == "test" else not bool(has6.any()), split
    others = task.splits["train"][0][task.splits["train"][2] != 3]
    assert (args_of(others) == 6).any()  # other ops keep the digit


def test_same_seed_same_data_and_different_seeds_differ():
    a, b = operations(300, 50, 50, seed=4, split="disjoint"), operations(300, 50, 50, seed=4, split="disjoint")
    assert all(torch.equal(u, v) for s in a.splits for u, v in zip(a.splits[s], b.splits[s]))
    assert not torch.equal(a.splits["train"][0], operations(300, 50, 50, seed=5).splits["train"][0])


def test_mistakes_speak_digits():
    task = operations(10, 0, 10, seed=0)
    x, y, _ = task.splits["test"]
    pred = y.clone()
    pred[0] = 2 if y[0] != 2 else 3
    (line,) = task.mistakes("test", pred)
    assert line == f"{render(x[0])}: model says {VOCAB[int(pred[0])]}, truth {VOCAB[int(y[0])]}"
    assert "model says 0" in line or "model says 1" in line


@pytest.mark.parametrize("kwargs,words", [
    ({"split": "random"}, ["split='random'", "'seed', 'disjoint'"]),
    ({"ops": ("Max", "Foo")}, ["unknown op 'Foo'"]),
    ({"ops": ("Middle",), "n_args": 2}, ["odd number"]),
    ({"held_out": {"Middle": (1,)}}, ["not among ops"]),
    ({"held_out": {"Max": (10,)}}, ["digits 0-9"]),
    ({"n_args": 9}, ["n_args=9", "1 to 6"]),
])
def test_bad_arguments_are_clear_errors(kwargs, words):
    with pytest.raises(BlocklabError) as err:
        operations(100, 10, 10, **kwargs)
    for w in words:
        assert w in str(err.value)
