"""The synthetic tasks produce the labels their docstrings promise."""
import torch

from blocklab.tasks import copy_first, first_equals_last, first_vs_last, lookup, signals, spirals


def test_copy_first_labels_are_first_tokens():
    d = copy_first(200, 0, 50, seed=1)
    x, y = d.splits["train"]
    assert torch.equal(y, x[:, 0])
    assert set(d.splits) == {"train", "test"}


def test_first_vs_last_answers_the_query():
    d = first_vs_last(500, 0, 0, seed=2, length=6, n_symbols=7)
    x, y = d.splits["train"]
    asks_first = x[:, 0] == 7
    assert torch.equal(y[asks_first], x[asks_first, 1])
    assert torch.equal(y[~asks_first], x[~asks_first, -1])
    assert set(x[:, 0].tolist()) == {7, 8}


def test_first_equals_last_is_balanced_and_correct():
    d = first_equals_last(4000, 0, 0, seed=3)
    x, y = d.splits["train"]
    assert torch.equal(y.bool(), x[:, 0] == x[:, -1])
    assert abs(y.float().mean().item() - 0.5) < 0.03


def test_lookup_reads_the_named_position():
    d = lookup(300, 0, 0, seed=4, length=6, n_symbols=5)
    x, y = d.splits["train"]
    k = x[:, -1] - 5
    assert torch.equal(y, x[torch.arange(len(x)), k])


def test_same_seed_same_data_and_mistakes_render():
    a, b = first_equals_last(50, 10, 10, seed=9), first_equals_last(50, 10, 10, seed=9)
    assert all(torch.equal(p, q) for s in a.splits for p, q in zip(a.splits[s], b.splits[s]))
    x, y = a.splits["val"]
    wrong = a.mistakes("val", 1 - y, limit=3)
    assert len(wrong) == 3 and "model says" in wrong[0] and "truth" in wrong[0]


def test_vector_tasks_shapes_and_spike_mask():
    s = signals(20, 0, 5, seed=0, length=16, n_spikes=2)
    noisy, target, mask = s.splits["train"]
    assert noisy.shape == target.shape == mask.shape == (20, 16)
    assert torch.all(mask.sum(1) <= 2) and torch.all(target[mask].abs() > 1.0)
    x, y = spirals(100, 0, 0, seed=0).splits["train"]
    assert x.shape == (100, 2) and set(y.tolist()) <= {0, 1}
