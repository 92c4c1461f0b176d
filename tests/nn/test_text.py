"""continue_text / load_text_model: what `blocklab generate` runs, with either engine."""
from __future__ import annotations

import pytest
import torch

from blocklab.autograd.tokenizer import CharTokenizer
from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig, Seq2SeqConfig, Seq2SeqTransformer
from blocklab.nn.models.text import continue_text, load_text_model
from blocklab.tokenizers import ByteTokenizer

TOK = CharTokenizer("abcdefgh ")


@pytest.fixture
def folder(tmp_path):
    model = GPT(GPTConfig(vocab_size=TOK.vocab_size, d_model=16, n_heads=2, d_ff=32, max_len=12,
                          pos_encoding="learned"))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model.save(tmp_path / "m", tokenizer=TOK)


def test_both_engines_continue_a_prompt_alike(folder):
    texts = []
    for engine in ("torch", "numpy"):
        model, tok = load_text_model(folder, engine=engine)
        texts.append(continue_text(model, tok, "bad cafe", 20, temperature=0).text)
    assert texts[0] == texts[1] and len(texts[0]) == 20 and set(texts[0]) <= set(TOK.chars)


def test_seeded_sampling_repeats_and_unknown_characters_are_named(folder):
    model, tok = load_text_model(folder)
    first = continue_text(model, tok, "a☃b", 15, seed=3)
    assert first == continue_text(model, tok, "a☃b", 15, seed=3) and first.unknown == ["☃"]
    with pytest.raises(BlocklabError, match="'☃' at position 1"):
        continue_text(model, tok, "a☃b", 5, strict=True)
    with pytest.raises(BlocklabError, match="prompt is empty"):
        continue_text(model, tok, "", 5)


def test_a_folder_that_cannot_generate_text_says_why(tmp_path):
    GPT(GPTConfig(vocab_size=256, d_model=16, n_heads=2, d_ff=32)).save(tmp_path / "bare")
    with pytest.raises(BlocklabError, match="tokenizer.json is missing: the model was saved without a tokenizer"):
        load_text_model(tmp_path / "bare")
    Seq2SeqTransformer(Seq2SeqConfig(vocab_size=256, d_model=16, n_heads=2, d_ff=32)).save(
        tmp_path / "s2s", tokenizer=ByteTokenizer())
    with pytest.raises(BlocklabError, match="is a Seq2SeqTransformer checkpoint, not a GPT"):
        load_text_model(tmp_path / "s2s")
