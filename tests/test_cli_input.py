"""Bad input stopped at the door (issue 15): each input defect of the issue's sweep, through the real entry
point (cli.main), ends in exit code 2 and one line on stderr that names the option or file, before any work.

Every test here failed on the code before the fix (a traceback with exit 1, a silent misreading, or a
benchmark that ran in full before its --out was refused); defects 10 and 11 were already one line, and
their tests hold them there. Models are 1-layer GPTs of width 16: the whole file takes a few seconds.
"""
from __future__ import annotations

import importlib
import json
import math

import pytest
import torch

from blocklab.autograd.tokenizer import CharTokenizer
from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig
from blocklab.nn.models.operations import build_model, model_config
from blocklab.tasks.operations import encode
from lab.tiny_study import TinyStudy, run_cli, tiny  # noqa: F401  (tiny: the fixture that registers the test study)

TOK = CharTokenizer("abcdefgh ")


def refused(result, *words: str) -> str:
    """The one stderr line of an exit-2 refusal that printed nothing on stdout, checked to hold `words`."""
    code, out, err = result
    assert code == 2 and out == "" and "Traceback" not in err, (code, out, err)
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert all(w in err for w in words), (words, err)
    return err


def text_gpt(d_model: int = 16) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, d_model=d_model, n_heads=2, d_ff=32, n_layers=1, max_len=12,
                         pos_encoding="learned"))


@pytest.fixture
def lm(tmp_path):
    """A text model folder (config.json, model.safetensors, tokenizer.json)."""
    return text_gpt().save(tmp_path / "lm", tokenizer=TOK)


@pytest.fixture
def ops(tmp_path):
    """A training-dynamics (operations task) model folder, what `predict` reads."""
    torch.manual_seed(0)
    return build_model(model_config(d_model=16, n_heads=2, d_ff=32, n_layers=1)).save(tmp_path / "ops")


# ---------------------------------------------------------------- defect 3: --config files of every wrong kind
@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe{\x00}", "is corrupt: not UTF-8 text (byte 0)"),
    (b"{not json", "is corrupt: not JSON"),
    (b"", "is corrupt: not JSON"),
    (b"[1, 2]", "the top level is [1, 2]; it must be an object"),
    (b"[" * 100_000, "nested too deeply"),
])
def test_info_config_file_that_is_not_a_utf8_json_object_is_one_line(capsys, tmp_path, content, words):
    path = tmp_path / "cfg.json"
    path.write_bytes(content)
    refused(run_cli(capsys, "info", "--config", str(path)), f"config file {path}", words)


def test_info_config_that_is_a_folder_or_missing_is_one_line(capsys, tmp_path):
    refused(run_cli(capsys, "info", "--config", str(tmp_path)), "--config", "is a directory")
    refused(run_cli(capsys, "info", "--config", str(tmp_path / "none.json")), "does not exist")


def test_info_counts_a_huge_model_without_allocating_it_and_refuses_one_past_the_size_bounds(capsys):
    """WHAT: `info --vocab 16000000` prints the count (the model is built on the meta device); 10**12 is refused.
    WHY: info built the model for real, so a large vocabulary ended in torch's allocator with a traceback."""
    code, out, err = run_cli(capsys, "info", "--vocab", "16000000")
    assert code == 0 and "embed" in out, err
    refused(run_cli(capsys, "info", "--vocab", str(10**12)), "vocab_size=1000000000000", "2**24")


# ---------------------------------------------------------------- defect 5: output paths, before any work
@pytest.fixture
def heavy(monkeypatch):
    """Every verb's work replaced by a failure: a refusal must come before any of it runs."""
    import blocklab.lab.report
    import blocklab.nn.hf
    import blocklab.train.lm
    from blocklab.lab import runner

    bench_cli = importlib.import_module("blocklab.cli.bench")  # the package's `bench` attribute is the click group

    def ran(*args, **kwargs):
        raise AssertionError("the work ran before the output path was checked")

    for module, name in [(bench_cli, "run_gpt"), (bench_cli, "run_attention"), (bench_cli, "run_generate"),
                         (bench_cli, "run_engine"), (runner, "run_study"), (blocklab.lab.report, "build_report"),
                         (blocklab.train.lm, "train_lm"), (blocklab.nn.hf, "export_hf")]:
        monkeypatch.setattr(module, name, ran)


@pytest.mark.parametrize("argv, words", [
    (["run", "tiny", "--quick", "--out", "{file}/sub"], "--out"),
    (["tour", "--out", "{file}/sub"], "--out"),
    (["report", "{tmp}", "--out", "{file}/site"], "--out"),
    (["bench", "engine", "--out", "{file}/engine.json"], "--out"),
    (["bench", "engine", "--out", "{tmp}"], "a file is needed here"),
    (["bench", "gpt", "--out", "{file}"], "a folder is needed here"),
    (["bench", "attention", "--out", "{file}/b"], "--out"),
    (["bench", "generate", "--out", "{file}/b"], "--out"),
    (["bench", "all", "--out", "{file}/b"], "--out"),
    (["train-lm", "{file}", "{file}/lm"], "'OUT'"),
    (["export", "hf", "{lm}", "{file}/hf"], "'OUT'"),
])
@pytest.mark.usefixtures("tiny", "heavy")
def test_an_output_path_below_a_file_is_refused_before_any_work(capsys, tmp_path, lm, argv, words):
    """WHAT: every verb that writes refuses an --out (or OUT) it could not create, in click's one line, exit 2.
    WHY: `run --out afile/sub` and `report --out afile/site` ended in NotADirectoryError, and `bench engine
    --out afile/x.json` ran the whole benchmark first (issue 15, defect 5)."""
    file = tmp_path / "afile"
    file.write_text("a file, not a folder\n")
    argv = [a.format(file=file, tmp=tmp_path, lm=lm) for a in argv]
    before = sorted(tmp_path.rglob("*"))
    refused(run_cli(capsys, *argv), words)
    assert sorted(tmp_path.rglob("*")) == before and TinyStudy.calls == []


def test_bench_all_refuses_an_engine_json_that_is_a_folder_before_the_first_benchmark(capsys, tmp_path, heavy):
    (tmp_path / "engine.json").mkdir()
    refused(run_cli(capsys, "bench", "all", "--out", str(tmp_path)), "engine.json is a folder")


# ---------------------------------------------------------------- defect 9: only ASCII 0-9 are digits
@pytest.mark.parametrize("prompt, digit", [("Max(²,3,9)", "'²'"), ("Max(٥,3,9)", "'٥'"), ("Max(５,3,9)", "'５'")])
def test_a_digit_that_is_not_ascii_is_refused_not_misread(capsys, ops, prompt, digit):
    """WHAT: superscript, Arabic-Indic and fullwidth digits are refused by name. WHY: str.isdigit accepts them,
    so '²' ended in int()'s ValueError and '٥' was silently answered as 5."""
    refused(run_cli(capsys, "predict", str(ops), prompt), digit, "single digits 0-9")
    with pytest.raises(BlocklabError, match=digit):
        encode(prompt)


@pytest.mark.parametrize("probe", ["²+1", "٥+3", "1_0+2", "+5+3", " 5+3"])
def test_addition_heads_probes_take_only_ascii_digits(capsys, probe):
    refused(run_cli(capsys, "run", "addition-heads", "--dry-run", "--set", f"probes={json.dumps([probe])}"),
            f"probes has {probe!r}")


# ---------------------------------------------------------------- defects 10, 11: model folders that do not fit
def test_weights_of_another_width_name_the_first_tensor_and_both_shapes(capsys, tmp_path, lm, ops):
    """WHAT: config.json of width 16 beside weights of width 32: one line with the first mismatched tensor and
    both shapes, for generate (both engines) and predict. WHY: torch's load_state_dict prints a 35-line dump."""
    wide = text_gpt(d_model=32).save(tmp_path / "wide", tokenizer=TOK)
    (lm / "model.safetensors").write_bytes((wide / "model.safetensors").read_bytes())
    for engine in ("torch", "numpy"):
        refused(run_cli(capsys, "generate", str(lm), "abc", "--engine", engine),
                "tensor 'embed.tok.weight' has shape (10, 32), but config.json's settings give (10, 16)")
    torch.manual_seed(0)
    wide_ops = build_model(model_config(d_model=32, n_heads=2, d_ff=32, n_layers=1)).save(tmp_path / "wide_ops")
    (ops / "model.safetensors").write_bytes((wide_ops / "model.safetensors").read_bytes())
    refused(run_cli(capsys, "predict", str(ops), "Max(5,3,9)"), "has shape (20, 32), but config.json's settings give")


@pytest.mark.parametrize("engine", ["torch", "numpy"])
def test_a_config_far_bigger_than_its_weights_is_refused_before_it_allocates(capsys, lm, engine):
    """A config.json claiming a model of 2**24 x 2**24 weights beside tiny ones: the shapes are compared on the
    meta device, so the refusal costs no memory. Built for real first, it failed in torch's allocator."""
    record = json.loads((lm / "config.json").read_text())
    record["config"].update(vocab_size=2**24, d_model=2**24)
    (lm / "config.json").write_text(json.dumps(record))
    refused(run_cli(capsys, "generate", str(lm), "abc", "--engine", engine),
            "'embed.tok.weight' has shape (10, 16), but config.json's settings give (16777216, 16777216)")


@pytest.mark.parametrize("tokenizer, words", [
    ("[]", "the top level is []; it must be an object with the fields kind"),
    ("null", "the top level is null"),
    ("{}", "the field 'kind' is missing"),
    ('{"kind": "bpe"}', "kind is \"bpe\"; it must be one of: 'char', 'byte', 'word'"),
    ('{"kind": "char", "unk_id": 0}', "the field 'chars' is missing"),
    ('{"kind": "char", "unk_id": 0, "chars": 5}', "chars is 5; it must be a string"),
    ('{"kind": "char", "unk_id": 1, "chars": "ab"}', "unk_id is 1; it must be one of: 0"),
    ('{"kind": "char", "unk_id": 0, "chars": "aab"}', "characters must be distinct"),
    ('{"kind": "char", "unk_id": 0, "chars": "ab", "extra": 1}', "extra is 1; it must be absent"),
    ('{"kind": "word", "words": [1]}', "words[0] is 1; it must be a string"),
    ('{"kind": "word", "words": ["a"]}', "starts with <pad>, <unk>"),
])
def test_a_tokenizer_json_of_the_wrong_shape_is_one_line_naming_the_file(capsys, lm, tokenizer, words):
    """WHAT: tokenizer.json holding [] or any other wrong shape: one line naming the file and the field.
    WHY: issue 15, defect 11 (an AttributeError for [] in the sweep)."""
    (lm / "tokenizer.json").write_text(tokenizer)
    refused(run_cli(capsys, "generate", str(lm), "abc"), str(lm / "tokenizer.json"), words)


# ---------------------------------------------------------------- defects 12, 13, 16: generate's numbers
@pytest.mark.parametrize("option, value, words", [
    ("--temperature", "nan", "'nan' is not a finite number"),
    ("--temperature", "inf", "'inf' is not a finite number"),
    ("--temperature", "1e999", "is not a finite number"),
    ("--temperature", "-1", "not in the range x>=0"),
    ("--top-p", "nan", "'nan' is not a finite number"),
    ("--seed", str(2**64), "not in the range 0<=x<=9223372036854775807"),
    ("--seed", str(2**63), "not in the range 0<=x<=9223372036854775807"),
    ("--seed", "-1", "not in the range 0<=x<=9223372036854775807"),
    ("--max-new-tokens", str(10**12), "not in the range 1<=x<=100000"),
    ("--max-new-tokens", "100001", "not in the range 1<=x<=100000"),
])
def test_generate_refuses_a_number_it_cannot_sample_with(capsys, lm, option, value, words):
    """WHAT: NaN, infinite and negative temperatures, seeds outside [0, 2**63) and token counts over the cap.
    WHY: a NaN temperature reached torch.multinomial (RuntimeError), a seed of 2**64 overflowed in
    manual_seed, and --max-new-tokens had no bound (issue 15, defects 12, 13, 16)."""
    refused(run_cli(capsys, "generate", str(lm), "abc", option, value), f"'{option}'", words)


def test_generate_takes_the_largest_seed_and_token_count_it_allows(capsys, lm):
    code, out, err = run_cli(capsys, "generate", str(lm), "abc", "--seed", str(2**63 - 1), "--max-new-tokens", "3")
    assert code == 0 and len(out) == len("abc") + 3 + 1, err


@pytest.mark.parametrize("engine", ["torch", "numpy"])
@pytest.mark.parametrize("temperature", ["0", "1"])
def test_weights_holding_nan_are_refused_when_sampled_not_a_multinomial_error(capsys, tmp_path, engine, temperature):
    """A model saved from a diverged run (NaN weights): one line, for greedy decoding too (argmax of NaNs picks
    arbitrary tokens). Before, sampling ended in torch.multinomial's RuntimeError."""
    model = text_gpt()
    with torch.no_grad():
        model.blocks[0].mlp.up.weight.fill_(float("nan"))
    folder = model.save(tmp_path / "diverged", tokenizer=TOK)
    refused(run_cli(capsys, "generate", str(folder), "abc", "--engine", engine, "--temperature", temperature),
            "logits are not finite")


@pytest.mark.parametrize("engine", ["torch", "numpy"])
@pytest.mark.parametrize("arg, value", [("temperature", math.nan), ("temperature", -0.5), ("temperature", math.inf),
                                        ("top_p", math.nan), ("top_k", 0), ("max_new_tokens", -1)])
def test_each_engines_generate_raises_a_value_error_naming_the_argument(lm, engine, arg, value):
    from blocklab.nn.models.text import load_text_model

    model, _ = load_text_model(lm, engine)
    prompt = torch.tensor([[1, 2]]) if engine == "torch" else torch.tensor([[1, 2]]).numpy()
    kwargs = {"max_new_tokens": 2, arg: value}
    with pytest.raises(ValueError, match=f"^{arg}={value!r} is not valid"):
        model.generate(prompt, kwargs.pop("max_new_tokens"), **kwargs)


@pytest.mark.parametrize("argv", [["demo", "--seed", str(2**64)], ["demo", "--seed", "-1"],
                                  ["train-lm", "{text}", "{out}", "--seed", str(2**63)]])
def test_every_seed_option_takes_only_seeds_in_0_to_2_63(capsys, tmp_path, argv):
    (tmp_path / "t.txt").write_text("some text\n" * 50)
    argv = [a.format(text=tmp_path / "t.txt", out=tmp_path / "out") for a in argv]
    refused(run_cli(capsys, *argv), "'--seed'", "0<=x<=9223372036854775807")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- defect 14: demo --seconds
@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf", "3601"])
def test_demo_refuses_a_time_budget_outside_0_to_3600_seconds(capsys, seconds):
    """WHAT: --seconds 0 or -1 (and NaN, inf, over an hour) are refused naming the option and its range.
    WHY: with no time the demo took no step and indexed an empty loss list (IndexError)."""
    err = refused(run_cli(capsys, "demo", "--seconds", seconds), "'--seconds'")
    assert "0<x<=3600" in err or "not a finite number" in err


def test_demo_takes_at_least_one_step_however_short_its_budget(capsys):
    code, out, err = run_cli(capsys, "demo", "--seconds", "0.001")
    assert code == 0 and "done: 1 steps" in out, err


# ---------------------------------------------------------------- train-lm: a refused run writes nothing
@pytest.mark.parametrize("sets, words", [
    (["n_heads=3"], "d_model"),
    (["lr=-1"], "LMPreset.lr=-1 is not valid"),
    (["context=0"], "LMPreset.context=0 is not valid"),
    (["d_model=2097152", "n_heads=1"], "GiB to train"),
])
def test_train_lm_refuses_bad_settings_before_it_writes_anything(capsys, tmp_path, sets, words):
    (tmp_path / "t.txt").write_text("To be, or not to be, that is the question.\n" * 40)
    argv = ["train-lm", str(tmp_path / "t.txt"), str(tmp_path / "out"), "--preset", "tiny"]
    refused(run_cli(capsys, *argv, *[a for s in sets for a in ("--set", s)]), words)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the entry point itself
def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(capsys, monkeypatch, lm):
    """WHAT: main() turns a BlocklabError into one line and exit 2, and lets any other exception through.
    WHY: hiding a real bug behind "error: ..." would make it unreportable."""
    import blocklab.nn.models.text as text

    refused(run_cli(capsys, "generate", str(lm), "abc", "--strict", "--prompt-typo"), "No such option")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(text, "continue_text", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        run_cli(capsys, "generate", str(lm), "abc")


@pytest.mark.usefixtures("tiny")
def test_a_control_character_typed_in_a_value_is_escaped_so_the_message_stays_one_line(capsys):
    """Found by the property test: a --set key holding a carriage return split the error over two lines."""
    err = refused(run_cli(capsys, "run", "tiny", "--dry-run", "--set", "st\reps=1", "--set", "x\n=2"))
    assert "'st\\reps'" in err or "st\\reps" in err


@pytest.mark.usefixtures("tiny")
def test_a_dry_run_makes_the_checks_of_a_run_and_writes_nothing(capsys, tmp_path):
    """WHAT: --dry-run prints the plan and writes nothing; a value a run refuses, it refuses the same way.
    WHY: the property test drives every study's --set fields through it, so it must be the run's own path."""
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "run", "tiny", "--quick", "--seeds", "2", "--out", str(out), "--dry-run")
    assert code == 0 and "tiny: 3 cells x 2 seeds, 6 pairs to run" in stdout and not out.exists(), err
    dry = refused(run_cli(capsys, "run", "tiny", "--out", str(out), "--set", "steps=0", "--dry-run"))
    assert refused(run_cli(capsys, "run", "tiny", "--out", str(out), "--set", "steps=0")) == dry
    assert not out.exists() and TinyStudy.calls == []
    run_cli(capsys, "run", "tiny", "--quick", "--seeds", "1", "--out", str(out))
    code, stdout, _ = run_cli(capsys, "run", "tiny", "--quick", "--seeds", "2", "--out", str(out), "--dry-run")
    assert "3 pairs to run" in stdout  # seed 0 of every cell is finished
    refused(run_cli(capsys, "run", "tiny", "--seeds", "2", "--out", str(out), "--dry-run"), "another config")


@pytest.mark.usefixtures("tiny")
@pytest.mark.parametrize("threads", ["abc", "0", "²", "5000"])
def test_blocklab_threads_that_is_not_a_thread_count_is_one_line_before_anything_is_written(capsys, tmp_path,
                                                                                          monkeypatch, threads):
    """BLOCKLAB_THREADS=abc was int()'d when blocklab.lab.pair was imported: a ValueError traceback on every run."""
    monkeypatch.setenv("BLOCKLAB_THREADS", threads)
    for extra in ([], ["--dry-run"]):
        refused(run_cli(capsys, "run", "tiny", "--quick", "--out", str(tmp_path / "run"), *extra),
                f"BLOCKLAB_THREADS={threads!r} is not valid")
    assert not (tmp_path / "run").exists()
