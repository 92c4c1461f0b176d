"""train_lm: a character or byte GPT on a user's text, resumable, leaving a model folder to sample from."""
from __future__ import annotations

import inspect

import pytest
import torch

from blocklab.autograd.gpt import GPT as NumpyGPT
from blocklab.errors import BlocklabError
from blocklab.nn import GPT
from blocklab.nn.models.sampling import DEFAULT_TEMPERATURE
from blocklab.nn.models.saving import load_tokenizer
from blocklab.tokenizers import ByteTokenizer
from blocklab.train.lm import text_windows, train_lm

SMALL = {"n_layers": 1, "n_heads": 2, "d_model": 16, "context": 8, "batch_size": 4, "warmup_steps": 2,
         "eval_every": 3, "val_windows": 6}
TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 4


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _train(text_file, out, **kwargs):
    return train_lm(text_file, out, preset_name="tiny", max_iters=6, overrides=SMALL, sample_tokens=20,
                    show_progress=False, **kwargs)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(text_file, tmp_path):
    whole = _train(text_file, tmp_path / "whole")

    def interrupt(event, state):
        if event == "step" and state.step == 4:  # after the step-3 checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(text_file, tmp_path / "resumed", callbacks=[interrupt])
    assert GPT.load(tmp_path / "resumed") is not None  # the step-3 evaluation left a model to sample
    resumed = _train(text_file, tmp_path / "resumed")
    assert "resumed from a checkpoint at step 3" in resumed.result.notes
    assert resumed.result.final == whole.result.final and resumed.sample == whole.sample
    assert len(whole.sample) == 20 and set(whole.sample) <= set(TEXT) | {"\ufffd"}  # U+FFFD: <unk>


def test_the_saved_folder_generates_text(text_file, tmp_path):
    run = _train(text_file, tmp_path / "lm")
    model, tok = GPT.load(tmp_path / "lm"), load_tokenizer(tmp_path / "lm")
    prompt = torch.from_numpy(tok.encode("To be"))[None]
    assert torch.equal(model(prompt), run.model(prompt))
    out = model.generate(prompt, 10, temperature=0)
    assert tok.decode(out[0, :5].numpy()) == "To be" and out.shape == (1, 15)
    assert model.cfg.max_len == 8 and model.cfg.vocab_size == tok.vocab_size


def test_byte_level_and_settings_that_changed(text_file, tmp_path):
    run = _train(text_file, tmp_path / "bytes", level="byte")
    assert isinstance(run.tokenizer, ByteTokenizer) and run.model.cfg.vocab_size == 256
    with pytest.raises(BlocklabError, match="another level"):
        _train(text_file, tmp_path / "bytes", level="char")
    again = _train(text_file, tmp_path / "bytes", level="char", resume=False)
    assert again.model.cfg.vocab_size == len(set(TEXT[: round(len(TEXT) * 0.9)])) + 1


def test_bad_input_is_one_line(text_file, tmp_path):
    for kwargs, named in (({"text_path": tmp_path / "none.txt"}, "none.txt does not exist"),
                          ({"level": "word"}, "train_lm.level='word' is not valid"),
                          ({"preset_name": "huge"}, "train_lm.preset='huge' is not valid"),
                          ({"overrides": {"layers": 2}}, "LMPreset has no field 'layers'"),
                          ({"overrides": {"context": 0}}, "LMPreset.context=0 is not valid")):
        args = {"text_path": text_file, "out": tmp_path / "x", "preset_name": "tiny", "show_progress": False, **kwargs}
        with pytest.raises(BlocklabError, match=named):
            train_lm(**args)
    short = tmp_path / "short.txt"
    short.write_text("abc")
    with pytest.raises(BlocklabError, match="too short"):
        train_lm(short, tmp_path / "x", preset_name="tiny", show_progress=False)


def test_windows_cover_the_text_once_at_stride_context():
    ids = torch.arange(20).numpy()
    rows = text_windows(ids, 4)  # (4, 5): starts 0, 4, 8, 12
    assert rows[:, 0].tolist() == [0, 4, 8, 12] and rows[1].tolist() == [4, 5, 6, 7, 8]
    assert text_windows(ids, 4, limit=2)[:, 0].tolist() == [0, 12]


def test_one_default_temperature_in_both_engines():
    assert inspect.signature(GPT.generate).parameters["temperature"].default == DEFAULT_TEMPERATURE
    assert inspect.signature(NumpyGPT.generate).parameters["temperature"].default == DEFAULT_TEMPERATURE
