"""The `blocklab` command line: one module per group of verbs.

run.py      list, show, run, tour report.py  report, plot, readme
models.py   demo, generate, predict   info.py  info
lm.py       train-lm, export hf
data.py     data fetch, data list  bench.py   bench gpt, attention, generate, engine, all

Importing this package imports click and nothing heavy: each verb imports torch, the studies
(through _studies.py, the CLI's one door to them) or numpy when it runs, so that `--help`,
`list` and shell completion answer at once. User errors (a bad option, a bad config value, an
unknown study, a malformed file) print one line and exit with code 2, never a traceback; main()
is the one place that does it.
"""
from __future__ import annotations

import sys

import click

from ..errors import BlocklabError
from .bench import bench
from .data import data
from .info import info
from .lm import export, train_lm
from .models import demo, generate, predict
from .report import plot, readme, report
from .run import list_studies, run, show, tour


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="blocklab")
def cli() -> None:
    """blocklab: every building block of the Transformer, proven by experiment.

    \b
    Examples:
      blocklab demo
      blocklab list
      blocklab run attention --quick
      blocklab report runs
    """


for _command in (info, demo, list_studies, show, run, tour, report, plot, readme, train_lm, generate, predict, export,
                 data, bench):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2; any other exception is a bug
    and keeps its traceback."""
    try:
        cli.main(args=argv, prog_name="blocklab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        if isinstance(e, click.UsageError) and not isinstance(e, click.exceptions.NoArgsIsHelpError):
            where = e.ctx.command_path if e.ctx else "blocklab"
            click.echo(f"error: {one_line(e.format_message())} (see {where} --help)", err=True)
        else:  # `blocklab` or `blocklab data` alone shows the help; click's other errors are one line
            e.show()
        sys.exit(e.exit_code)
    except BlocklabError as e:
        click.echo(f"error: {one_line(str(e))}", err=True)
        sys.exit(2)


def one_line(text: str) -> str:
    """`text` with each character that would break the line or hide in it (a newline or carriage return
    typed inside a --set key, another control character) written as its escape: the message stays one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
