"""Every `--help` example is a command that works, and naming things costs no torch import.

The examples are read from the help text exactly as a user sees it (so an example re-wrapped by
click, or naming an option or a config field that does not exist, fails here). Cheap ones run;
the rest are parsed by click down to their last option and value, and a `run` example's --set
values are built into the study's config, where a wrong field name or type is refused.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from blocklab.cli import cli
from lab.tiny_study import run_cli

EXAMPLE = re.compile(r"^ {4,}(blocklab .*)$")  # an indented line of a \b paragraph
CHEAP = ("list", "info")  # examples that run in about a second; the rest train or read runs/


def _help_texts(command: click.Command, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    texts = {path: CliRunner().invoke(cli, [*path, "--help"]).output}
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            texts.update(_help_texts(sub, (*path, name)))
    return texts


def _examples() -> list[str]:
    return [m.group(1) for text in _help_texts(cli).values() for line in text.splitlines()
            if (m := EXAMPLE.match(line))]


def _parse(argv: list[str]) -> click.Context:
    """argv parsed as `blocklab` would, through every group down to the verb; returns the verb's context."""
    command, name, ctx = cli, "blocklab", None
    while isinstance(command, click.Group):
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        name, argv = argv[0], argv[1:]
        command = command.get_command(ctx, name)
        assert command is not None, f"no verb {name!r}"
    return command.make_context(name, argv, parent=ctx)


def test_every_verb_with_an_example_shows_it_unwrapped():
    verbs = {shlex.split(example)[1] for example in _examples()}
    assert {"run", "info", "report", "plot", "generate", "predict", "demo", "data", "bench", "list"} <= verbs


@pytest.mark.parametrize("example", _examples())
def test_every_help_example_parses_and_its_values_validate(example, capsys):
    argv = shlex.split(example)[1:]
    ctx = _parse(argv)  # an unknown option or a bad value raises click.UsageError here
    if ctx.info_name == "run":  # every check a run makes (study, --set values, folder), without running it
        code, _, err = run_cli(capsys, *argv, "--dry-run")
        assert code == 0, f"{example}: {err}"
    if argv[0] in CHEAP:
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, f"{example}: {err}"


PROBE = """
import os, sys
from blocklab.cli import main
runs = [(["--help"], {}), (["list"], {}), (["run", "--help"], {}),
        (None, {"_BLOCKLAB_COMPLETE": "bash_complete", "COMP_WORDS": "blocklab run building-b", "COMP_CWORD": "2"})]
for argv, env in runs:
    os.environ.update(env)
    try:
        main(argv)
    except SystemExit:
        pass
heavy = [m for m in sys.modules if m in ("torch", "numpy", "matplotlib")
         or m.startswith("blocklab.studies.") and m != "blocklab.studies.catalogue"]
print("heavy:", heavy)
"""


def test_help_list_and_completion_import_neither_torch_nor_a_study():
    """What `blocklab --help`, `list`, `run --help` and Tab completion import (a behaviour, not a timing)."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "plain,building-blocks" in lines  # completion answered from the catalogue
    assert any(line.startswith("skip-connections ") for line in lines)  # `list` printed the studies
    assert lines[-1] == "heavy: []"


@pytest.mark.parametrize("argv", [["run", "--sed", "3", "attention"], ["run"], ["run", "attention", "--seeds", "x"],
                                  ["bench", "gpt", "--threads", "0"], ["nosuchverb"]])
def test_a_usage_error_is_one_line_and_exit_2(argv, capsys):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and err.strip().endswith("--help)")


@pytest.mark.parametrize("argv", [[], ["data"], ["bench"]])
def test_a_group_alone_shows_its_help(argv, capsys):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.startswith("Usage: blocklab") and "Commands:" in err
