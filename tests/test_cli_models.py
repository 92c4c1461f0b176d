"""`blocklab train-lm`, `generate`, `export hf` and `predict` on model folders: a text trained, sampled
and exported through the real entry point (cli.main, as a user runs it), and a folder of the
wrong kind refused in one line with exit code 2."""
from __future__ import annotations

import json

import pytest
import torch

from blocklab.cli.models import generate
from blocklab.nn import GPT, Seq2SeqConfig, Seq2SeqTransformer
from blocklab.nn.models.operations import build_model, model_config
from blocklab.nn.models.sampling import DEFAULT_TEMPERATURE
from blocklab.nn.models.saving import load_tokenizer
from blocklab.nn.models.text import continue_text
from blocklab.tokenizers import CharTokenizer
from blocklab.train.checkpoint import model_tensors
from lab.tiny_study import run_cli as run

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 4
SMALL = ["--set", "n_layers=1", "--set", "n_heads=2", "--set", "d_model=16", "--set", "context=8",
         "--set", "batch_size=4", "--set", "warmup_steps=2", "--set", "eval_every=3", "--set", "val_windows=6"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """A model folder written by `blocklab train-lm` (6 steps of a 1-layer GPT)."""
    folder = tmp_path_factory.mktemp("lm")
    (folder / "input.txt").write_text(TEXT, encoding="utf-8")
    from blocklab.cli import main

    try:
        main(["train-lm", str(folder / "input.txt"), str(folder / "out"), "--preset", "tiny", "--max-iters", "6",
              *SMALL])
    except SystemExit as e:
        assert e.code in (0, None)
    return folder / "out"


def test_train_lm_then_generate_samples_as_the_python_api_does(capsys, lm):
    """WHAT: `generate` on train-lm's folder prints prompt + what continue_text samples with the API's defaults.
    WHY: a CLI default that differs from GPT.generate's (temperature 0 against 1.0) prints other text."""
    model, tok = GPT.load(lm), load_tokenizer(lm)
    assert model.cfg.n_layers == 1 and model.cfg.max_len == 8
    expected = "To be" + continue_text(model, tok, "To be", 12, seed=3).text
    for engine in ("torch", "numpy"):
        code, out, err = run(capsys, "generate", str(lm), "To be", "--max-new-tokens", "12", "--seed", "3",
                             "--engine", engine)
        assert code == 0, err
        assert out == expected + "\n"
    assert generate.params[[p.name for p in generate.params].index("temperature")].default == DEFAULT_TEMPERATURE


def test_generate_notes_unknown_characters_and_strict_refuses_them(capsys, lm):
    code, out, err = run(capsys, "generate", str(lm), "Zebra", "--max-new-tokens", "3", "--temperature", "0")
    assert code == 0 and out.startswith("Zebra") and "'Z'" in err and "<unk>" in err
    code, out, err = run(capsys, "generate", str(lm), "Zebra", "--strict")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_export_hf_gives_the_same_logits_in_transformers(capsys, lm, tmp_path):
    transformers = pytest.importorskip("transformers")
    code, out, err = run(capsys, "export", "hf", str(lm), str(tmp_path / "hf"))
    assert code == 0, err
    theirs = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf", attn_implementation="eager").eval()
    x = torch.randint(0, GPT.load(lm).cfg.vocab_size, (2, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(theirs(x).logits, GPT.load(lm)(x), atol=1e-5, rtol=0)


def _operations_model():
    torch.manual_seed(0)
    return build_model(model_config(d_model=16, n_heads=2, d_ff=32, n_layers=1)).eval()


def test_each_verb_refuses_a_folder_of_another_kind_in_one_line(capsys, lm, tmp_path):
    seq2seq = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=9, d_model=16, n_heads=2, d_ff=32,
                                               max_len=8)).save(tmp_path / "seq2seq")
    operations = _operations_model().save(tmp_path / "operations")
    cases = [(["predict", str(seq2seq), "Max(5,3,9)"], "is a Seq2SeqTransformer checkpoint, not a GPT"),
             (["generate", str(seq2seq), "hi"], "is a Seq2SeqTransformer checkpoint, not a GPT"),
             (["export", "hf", str(seq2seq), str(tmp_path / "x")], "is a Seq2SeqTransformer checkpoint, not a GPT"),
             (["predict", str(lm), "Max(5,3,9)"], "not a training-dynamics model"),  # a copilot-like text GPT
             (["generate", str(operations), "Max(5,3,9)"], "tokenizer.json is missing"),
             (["export", "hf", str(operations), str(tmp_path / "x")], "pos_encoding='sinusoidal' cannot be exported"),
             (["generate", str(tmp_path / "nowhere"), "hi"], "does not exist")]
    for argv, problem in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and problem in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_predict_reads_a_training_dynamics_folder_of_the_old_layout(capsys, tmp_path):
    """Folders saved before the model format (config.json = bare GPTConfig fields) still answer, identically."""
    model = _operations_model()
    new = model.save(tmp_path / "new")
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps(model.cfg.to_dict()))
    from safetensors.torch import save_file

    save_file(model_tensors(model), str(old / "model.safetensors"))
    answers = [run(capsys, "predict", str(folder), "Max(5,3,9)", "--top", "3") for folder in (new, old)]
    assert answers[0][0] == 0 and answers[0] == answers[1]


def test_a_char_tokenizer_folder_round_trips_through_generate(capsys, tmp_path):
    """A GPT saved with a CharTokenizer by model.save (as char-lm saves its checkpoint) is sampleable."""
    tok = CharTokenizer.fit("abc ")
    torch.manual_seed(0)
    model = GPT(model_config(vocab_size=tok.vocab_size, d_model=16, n_heads=2, d_ff=32, n_layers=1)).eval()
    folder = model.save(tmp_path / "checkpoint", tokenizer=tok)
    code, out, err = run(capsys, "generate", str(folder), "ab", "--max-new-tokens", "4", "--engine", "torch")
    assert code == 0 and out.startswith("ab") and len(out.strip()) == 6, err
