"""WordTokenizer: words, ids from the training split only, padding, and a round trip."""
from __future__ import annotations

import pytest
import torch

from blocklab.data import WordTokenizer
from blocklab.data.words import PAD_ID, UNK_ID, split_words
from blocklab.errors import BlocklabError

TRAIN = ["A so-so film!", "It's a fine film.", "a film, a FILM", "It’s fine"]


def test_words_are_lowercased_runs_with_apostrophes_and_single_marks():
    assert split_words("A so-so film!") == ["a", "so", "-", "so", "film", "!"]
    assert split_words("It’s the film's end...") == ["it's", "the", "film's", "end", ".", ".", "."]


def test_ids_follow_training_counts_and_unseen_words_are_unknown():
    tok = WordTokenizer.fit(TRAIN, min_count=2)
    # counts: a 4, film 4, fine 2, it's 2, so 2; the rest once
    assert tok.words == ["<pad>", "<unk>", "a", "film", "fine", "it's", "so"]
    assert tok.encode("A fine, GREAT film") == [2, 4, UNK_ID, UNK_ID, 3]
    assert tok.unknown_rate(["great film"]) == 0.5
    assert WordTokenizer.fit(TRAIN, min_count=2, max_vocab=4).words == ["<pad>", "<unk>", "a", "film"]


def test_encode_batch_pads_and_cuts_and_decode_drops_padding():
    tok = WordTokenizer.fit(TRAIN)
    batch = tok.encode_batch(["a film", "a so-so film !", ""], max_len=4)
    assert batch.dtype == torch.long and batch.shape == (3, 4)
    assert batch[0, 2:].tolist() == [PAD_ID, PAD_ID] and batch[2].tolist() == [PAD_ID] * 4
    assert tok.decode(batch[1]) == "a so - so"
    assert tok.decode(batch[0]) == "a film"
    with pytest.raises(BlocklabError, match="max_len=0"):
        tok.encode_batch(["a"], 0)
    with pytest.raises(BlocklabError, match=r"token ids must be in \[0, "):
        tok.decode([tok.vocab_size])


def test_save_and_load_give_the_same_vocabulary(tmp_path):
    tok = WordTokenizer.fit(TRAIN)
    tok.save(tmp_path / "t.json")
    again = WordTokenizer.load(tmp_path / "t.json")
    assert again.words == tok.words and again.encode("so fine") == tok.encode("so fine")
    (tmp_path / "c.json").write_text('{"kind": "char", "unk_id": 0, "chars": "ab"}')
    with pytest.raises(BlocklabError, match="holds a CharTokenizer, not a WordTokenizer"):
        WordTokenizer.load(tmp_path / "c.json")
