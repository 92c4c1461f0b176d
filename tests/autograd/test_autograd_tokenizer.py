"""CharTokenizer: round trip, the unknown-character policy, and saving."""
from __future__ import annotations

import numpy as np
import pytest

from blocklab.autograd.tokenizer import UNK_CHAR, UNK_ID, CharTokenizer
from blocklab.errors import BlocklabError

SOURCE = "def add(a, b):\n    return a + b  # é\n"


def test_round_trip_and_vocabulary():
    tok = CharTokenizer.fit(SOURCE)
    ids = tok.encode(SOURCE)
    assert ids.dtype == np.int64 and ids.shape == (len(SOURCE),)
    assert tok.decode(ids) == SOURCE
    assert tok.vocab_size == len(set(SOURCE)) + 1 and UNK_ID not in ids
    assert list(tok.chars) == sorted(set(SOURCE))  # deterministic: sorted code points
    assert tok.decode([]) == "" and tok.encode("").shape == (0,)


def test_unknown_characters_map_to_unk_and_keep_positions():
    tok = CharTokenizer.fit("abc")
    ids = tok.encode("a?c!")
    np.testing.assert_array_equal(ids, [1, UNK_ID, 3, UNK_ID])
    assert tok.decode(ids) == f"a{UNK_CHAR}c{UNK_CHAR}"


def test_strict_policy_names_the_character():
    with pytest.raises(BlocklabError, match=r"'\?' at position 1"):
        CharTokenizer.fit("abc").encode("a?c", errors="strict")


def test_decode_rejects_ids_outside_the_vocabulary():
    with pytest.raises(BlocklabError, match=r"\[0, 4\)"):
        CharTokenizer.fit("abc").decode([1, 4])


def test_save_and_load(tmp_path):
    tok = CharTokenizer.fit(SOURCE)
    tok.save(tmp_path / "tok.json")
    again = CharTokenizer.load(tmp_path / "tok.json")
    assert again == tok and again.decode(again.encode(SOURCE)) == SOURCE
    (tmp_path / "bad.json").write_text('{"kind": "bpe"}')
    with pytest.raises(BlocklabError, match="is not a blocklab tokenizer: kind is \"bpe\""):
        CharTokenizer.load(tmp_path / "bad.json")
