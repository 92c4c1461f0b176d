"""The sortedness task: right labels, balanced at every length, negatives one edit from sorted,
and nothing but the sequence itself tells its length."""
import torch

from blocklab.tasks.sortedness import ADJACENT_SWAP, FAR_SWAP, MOVED, SORTED, is_sorted, sortedness

N_VALUES = 16


def rows(n=1800, lengths=tuple(range(8, 17)), seed=0):
    x, y, lens, kinds = sortedness(n, 0, 0, seed=seed, lengths=lengths, n_values=N_VALUES).splits["train"]
    return x, y, lens, kinds


def real(x_row, length):
    return x_row[:length]


def test_labels_say_whether_the_real_tokens_are_non_decreasing():
    x, y, lens, _ = rows()
    for row, label, length in zip(x, y, lens):
        seq = real(row, length).tolist()
        assert label == int(all(a <= b for a, b in zip(seq, seq[1:]))), seq


def test_balanced_at_every_length_and_no_length_token():
    """WHAT: half of each length's rows are positive; tokens are values, then only PAD.
    WHY: if the label rate moved with the length, or a token marked it, length would leak."""
    x, y, lens, _ = rows()
    for length in range(8, 17):
        at = lens == length
        assert at.sum() == 200 and y[at].sum() == 100, f"length {length}: {y[at].sum()} of {at.sum()} positive"
        assert bool((x[at, :length] < N_VALUES).all()) and bool((x[at, length:] == N_VALUES).all())


def test_bag_of_tokens_carries_no_label():
    """Negatives are permutations of sorted samples, so token histograms match across classes."""
    x, y, lens, _ = rows(n=9000)
    real_tokens = x < N_VALUES
    hist = [torch.bincount(x[(y == c)[:, None] & real_tokens], minlength=N_VALUES).float() for c in (0, 1)]
    freq = [h / h.sum() for h in hist]
    assert (freq[0] - freq[1]).abs().max() < 0.005, (freq[0] - freq[1]).abs().max()


def test_adjacent_swap_negatives_are_one_adjacent_swap_from_sorted():
    x, y, lens, kinds = rows()
    assert (kinds == ADJACENT_SWAP).sum() == (y == 0).sum() // 2
    for row, length in zip(x[kinds == ADJACENT_SWAP], lens[kinds == ADJACENT_SWAP]):
        seq = real(row, length)
        s = seq.sort().values
        diff = (seq != s).nonzero().flatten().tolist()
        assert len(diff) == 2 and diff[1] == diff[0] + 1, (seq.tolist(), diff)
        k = diff[0]
        assert seq[k] == s[k + 1] and seq[k + 1] == s[k]


def test_other_negatives_are_near_sorted_permutations():
    x, y, lens, kinds = rows()
    for row, length in zip(x[kinds == FAR_SWAP], lens[kinds == FAR_SWAP]):
        seq = real(row, length)
        assert (seq != seq.sort().values).sum() == 2  # two positions exchanged
    for row, length in zip(x[kinds == MOVED], lens[kinds == MOVED]):
        seq = real(row, length)
        # one element out of place: deleting it leaves a sorted sequence
        assert any(is_sorted(torch.cat([seq[:j], seq[j + 1:]])[None])[0] for j in range(length))
    assert bool((y == (kinds == SORTED).long()).all())
    assert not is_sorted(x[(kinds != SORTED) & (lens == 16)]).any()


def test_long_lengths_and_same_seed_same_data():
    x, y, lens, kinds = rows(n=40, lengths=(256,), seed=3)
    assert x.shape == (40, 256) and y.sum() == 20
    assert torch.equal(is_sorted(x).long(), y)
    again = rows(n=40, lengths=(256,), seed=3)
    assert all(torch.equal(a, b) for a, b in zip((x, y, lens, kinds), again))
