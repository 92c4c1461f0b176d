"""The reversal task: targets, teacher-forcing inputs and whole-sequence mistakes."""
import torch

from blocklab.tasks import reverse


def test_reverse_targets_and_decoder_inputs():
    d = reverse(100, 0, 20, seed=3, length=5, n_symbols=6)
    src, tgt, dec_in = d.splits["train"]
    assert torch.equal(tgt, src.flip(1)) and src.max() < 6 and d.vocab_size == 7
    assert (dec_in[:, 0] == 6).all() and torch.equal(dec_in[:, 1:], tgt[:, :-1])


def test_a_sequence_with_one_wrong_token_is_one_mistake():
    d = reverse(0, 0, 4, seed=0, length=3)
    src, tgt, _ = d.splits["test"]
    pred = tgt.clone()
    pred[2, 1] = (pred[2, 1] + 1) % 8
    (line,) = d.mistakes("test", pred)
    assert line == f"{d.render(src[2])}: model says {d.render(pred[2])}, truth {d.render(tgt[2])}"
