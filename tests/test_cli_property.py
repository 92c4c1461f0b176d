"""Property (hypothesis): whatever a user types, blocklab exits 0, or exits 2 with one line on stderr; never a
traceback (issue 15).

Two properties, each over random values: huge and negative integers, NaN, infinities, 1e999, unicode digits
('²', '٥'), empty and nested lists, objects, text, paths below a file, names too long for the OS:

1. every registered study's `--set` fields, through `blocklab run STUDY --dry-run`: runner.plan(), the very
   checks a run makes before it starts (study, --set values, cells, device, folder), with nothing trained;
2. every option and argument of every verb, with the verb's expensive work replaced by `ReachedWork` once
   its checks have passed (a benchmark's timing loop, train-lm's fit, the demo's model, tour's studies,
   plot's figures, a dataset download). Reaching it counts as a success: the input was accepted.
   Generated continuations are cut to a few tokens, so --max-new-tokens 100000 costs nothing.

Budget: BLOCKLAB_HYPOTHESIS_EXAMPLES examples per property (default 30, derandomized, about 20 s for the
file on 2 busy cores); BLOCKLAB_HYPOTHESIS_EXAMPLES=2000 runs a random search on demand (docs/running.md).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from blocklab.autograd.tokenizer import CharTokenizer
from blocklab.cli import cli
from blocklab.config import field_keys
from blocklab.lab import registry
from blocklab.lab.runner import run_study
from blocklab.nn import GPT, ClassifierConfig, GPTConfig, Seq2SeqConfig
from blocklab.nn.models.operations import build_model, model_config
from lab.tiny_study import register_tiny, run_cli

EXAMPLES = int(os.environ.get("BLOCKLAB_HYPOTHESIS_EXAMPLES", "30"))
BUDGET = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  derandomize="BLOCKLAB_HYPOTHESIS_EXAMPLES" not in os.environ,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.data_too_large])


class ReachedWork(Exception):
    """Raised where a verb's expensive work would begin: every check before it has passed."""


def _reached(*args, **kwargs):
    raise ReachedWork


# ---------------------------------------------------------------- values as a user would type them
NUMBERS = st.one_of(st.integers(-3, 70), st.integers(), st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63), 10**30]),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-400, 0.5, 1.0]))
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=5), inner, max_size=2)),
                           max_leaves=6)
ODD_TEXT = st.sampled_from(["1e999", "-1e999", "Infinity", "-Infinity", "NaN", "nan", "inf", "[]", "[[]]", "{}",
                            "null", "true", "²", "٥", "５", "1_000", "0x10", " 7", "", "=", "a=b", "[1,", "\U0001F600",
                            "9" * 5000])
# Text a command line can hold: no NUL (argv is C strings) and no lone surrogates, except the ones Python
# decodes bytes that are not UTF-8 into (U+DC80..U+DCFF, its surrogateescape).
TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                         st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)), max_size=12)
TYPED = st.one_of(st.builds(json.dumps, JSON_VALUES), ODD_TEXT, TEXT)
# Mostly plausible, sometimes not: a value that is refused at once exercises less than one that gets in.
PLAUSIBLE = st.one_of(st.integers(0, 4).map(str), st.sampled_from(["0.5", "1e-3", "true", "false", "[1]", "[2, 4]"]),
                      TYPED)


def _one_line_or_fine(code: int, err: str, argv: list[str]) -> None:
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert err.startswith("error: ") and len(err.splitlines()) == 1, (argv, err)


def _run(capsys, argv: list[str]) -> None:
    verb = " ".join(argv[:2] if argv[0] in ("bench", "data", "export") else argv[:1])
    try:
        code, _, err = run_cli(capsys, *argv)
    except ReachedWork:
        capsys.readouterr()
        event(f"{verb}: reached the work")  # --hypothesis-show-statistics counts how often each outcome came up
        return
    event(f"{verb}: exit {code}")
    _one_line_or_fine(code, err, argv)


# ---------------------------------------------------------------- property 1: every study's --set fields
registry.load_all()
STUDY_KEYS = {name: field_keys(cls.Config) for name, cls in registry.STUDIES.items()}


@st.composite
def study_sets(draw):
    study = draw(st.sampled_from(sorted(STUDY_KEYS)))
    keys = st.one_of(st.sampled_from(STUDY_KEYS[study]), st.sampled_from(STUDY_KEYS[study]), TEXT)
    sets = draw(st.lists(st.tuples(keys, PLAUSIBLE), min_size=1, max_size=3))
    return study, [f"{k}={v}" for k, v in sets], draw(st.booleans())


@BUDGET
@given(case=study_sets())
def test_any_set_value_on_any_study_is_accepted_or_refused_in_one_line(capsys, tmp_path, case):
    study, sets, quick = case
    out = tmp_path / "never"
    argv = ["run", study, "--dry-run", "--out", str(out), *(["--quick"] if quick else []),
            *[a for s in sets for a in ("--set", s)]]
    _run(capsys, argv)
    assert not out.exists(), argv  # a dry run, accepted or refused, writes nothing


# ---------------------------------------------------------------- property 2: every option of every verb
TOK = CharTokenizer("abcdefgh ")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """What the verbs read: a text model folder, an operations model folder, a text file, a run folder."""
    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    GPT(GPTConfig(vocab_size=TOK.vocab_size, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=8,
                  pos_encoding="learned")).save(root / "lm", tokenizer=TOK)
    build_model(model_config(d_model=16, n_heads=2, d_ff=32, n_layers=1)).save(root / "ops")
    (root / "text.txt").write_text("To be, or not to be, that is the question.\n" * 30)
    (root / "afile").write_text("a file\n")
    (root / "config.json").write_text('{"d_model": 32, "n_heads": 2}')
    with pytest.MonkeyPatch.context() as mp:
        register_tiny(mp)
        run_study("tiny", seeds=1, quick=True, out=root / "runs" / "tiny")
    return root


@pytest.fixture
def stubs(monkeypatch, tmp_path):
    """Each verb's expensive work replaced by ReachedWork; generation cut to 3 tokens; no network."""
    import blocklab.autograd.bench
    import blocklab.autograd.gpt
    import blocklab.bench.timing
    import blocklab.data.fetch
    import blocklab.demo
    import blocklab.train.lm
    from blocklab.lab import runner

    for module, name in [(blocklab.bench.timing, "fixed_threads"), (blocklab.autograd.bench, "bench_engine"),
                         (blocklab.train.lm, "fit"), (blocklab.demo, "GPT"), (runner, "run_study"),
                         (runner, "draw_figures"), (blocklab.data.fetch, "pip_download"),
                         (blocklab.data.fetch, "stdlib_manifest")]:
        monkeypatch.setattr(module, name, _reached)
    for cls in (GPT, blocklab.autograd.gpt.GPT):
        real = cls.generate
        monkeypatch.setattr(cls, "generate", lambda self, idx, n, _real=real, **kw: _real(self, idx, min(n, 3), **kw))
    monkeypatch.setenv("BLOCKLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BLOCKLAB_NO_PROGRESS", "1")
    monkeypatch.setenv("BLOCKLAB_JOBS", "1")
    monkeypatch.chdir(tmp_path)  # default output folders (runs/...) land here


def _commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    out = {}
    for name, command in group.commands.items():
        out.update(_commands(command, (*path, name)) if isinstance(command, click.Group) else {(*path, name): command})
    return out


COMMANDS = _commands()
MODEL_KEYS = sorted({*field_keys(GPTConfig), *field_keys(Seq2SeqConfig), *field_keys(ClassifierConfig)})
LM_KEYS = ["n_layers", "n_heads", "d_model", "context", "batch_size", "max_iters", "dropout", "lr", "warmup_steps",
           "weight_decay", "grad_clip", "eval_every", "val_windows"]
PATHS = ["{lm}", "{ops}", "{text}", "{runs}", "{afile}", "{afile}/below", "{root}/new/folder", "{root}",
         "x" * 300, "", "-"]
GOOD_PATHS = {"checkpoint": ["{lm}", "{ops}"], "textfile": ["{text}"], "folder": ["{runs}"],  # what each is meant for
              "config_file": ["{config}"], "out": ["{root}/new/folder", "{root}/out"]}
NAMES = ["paper-spec", "attention", "building-blocks", "tiny", "all", "rotten-tomatoes", "stdlib-code", "auto", "cpu",
         "cuda", "char", "byte", "tiny", "nanogpt-cpu", "gpt", "seq2seq", "Max(5,3,9)", "Max(²,3,9)", "abc"]


def _value(draw, param: click.Parameter, command: tuple[str, ...]) -> list[str]:
    """The words a user might type for `param`: its option name (if an option) and a value."""
    kind = param.type
    if isinstance(kind, click.types.BoolParamType) and isinstance(param, click.Option) and param.is_flag:
        return [param.opts[0]]
    if param.name == "sets":
        keys = MODEL_KEYS if command == ("info",) else LM_KEYS if command == ("train-lm",) else []
        key = draw(st.one_of(st.sampled_from(keys), st.sampled_from(keys), TEXT) if keys else TEXT)
        value = f"{key}={draw(PLAUSIBLE)}"
    elif isinstance(kind, click.Path):
        value = draw(st.one_of(st.sampled_from(GOOD_PATHS.get(param.name, PATHS)), st.sampled_from(PATHS), TEXT))
    elif isinstance(kind, click.Choice):
        value = draw(st.one_of(st.sampled_from(list(kind.choices)), st.sampled_from(list(kind.choices)), TEXT))
    elif isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        value = draw(st.one_of(st.integers(1, 4).map(str), st.builds(str, NUMBERS), ODD_TEXT))
    else:
        value = draw(st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), TEXT, ODD_TEXT))
    return [param.opts[0], value] if isinstance(param, click.Option) else [value]


@st.composite
def command_lines(draw):
    path = draw(st.sampled_from(sorted(COMMANDS)))
    command = COMMANDS[path]
    words = list(path)
    for param in command.params:
        if isinstance(param, click.Argument) or draw(st.integers(0, 2)) == 0:
            words += _value(draw, param, path)
    if path == ("run",):
        words.append("--dry-run")  # the run's checks, without training
    return words


@BUDGET
@given(argv=command_lines())
def test_any_option_value_of_any_verb_is_accepted_or_refused_in_one_line(capsys, files, stubs, argv):
    fill = {"lm": files / "lm", "ops": files / "ops", "text": files / "text.txt", "runs": files / "runs",
            "afile": files / "afile", "config": files / "config.json", "root": Path.cwd()}
    for key, path in fill.items():
        argv = [w.replace(f"{{{key}}}", str(path)) for w in argv]
    _run(capsys, argv)
