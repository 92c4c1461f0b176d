"""`blocklab train-lm` and `blocklab export hf`: a GPT on your own text, and a GPT for Hugging Face tools."""
from __future__ import annotations

import sys

import click

from ..config import parse_assignments
from ._options import SEED, InPath, OutPath


@click.command("train-lm")
@click.argument("textfile", type=InPath(dir_okay=False))
@click.argument("out", type=OutPath(folder=True))
@click.option("--preset", "preset_name", default="nanogpt-cpu", show_default=True,
              help="Model and training size: nanogpt-cpu (nanoGPT's CPU run, ~5 CPU minutes), tiny (seconds), "
                   "shakespeare-char (nanoGPT's GPU run).")
@click.option("--level", type=click.Choice(["char", "byte"]), default="char", show_default=True,
              help="char: one token per character of the text; byte: one per UTF-8 byte (any file).")
@click.option("--max-iters", type=click.IntRange(min=1), help="Training steps (default: the preset's).")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--no-resume", is_flag=True, help="Start over instead of resuming OUT's checkpoint.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Change one preset field (n_layers, d_model, context, lr, ...); repeatable.")
def train_lm(textfile: str, out: str, preset_name: str, level: str, max_iters: int | None, seed: int,
             no_resume: bool, sets: tuple[str, ...]) -> None:
    """Train a character-level GPT on TEXTFILE and save it as a model folder in OUT.

    Shows train and validation loss as it goes, writes OUT's model and checkpoint at every
    evaluation (a rerun resumes) and prints a sample at the end.

    \b
    Example:
      blocklab train-lm input.txt out/my-lm --preset tiny
      blocklab generate out/my-lm "ROMEO:"
    """
    from ..train.lm import train_lm as train

    run = train(textfile, out, preset_name=preset_name, level=level, max_iters=max_iters, resume=not no_resume,
                seed=seed, overrides=parse_assignments(sets), show_progress=sys.stderr.isatty())
    click.echo(run.sample)
    click.echo(f"\nsaved to {run.folder}; continue a prompt with: blocklab generate {run.folder} \"prompt\"", err=True)


@click.group()
def export() -> None:
    """Write a saved model in another library's format."""


@export.command("hf")
@click.argument("checkpoint", type=InPath())
@click.argument("out", type=OutPath(folder=True))
def export_hf(checkpoint: str, out: str) -> None:
    """Write the GPT in CHECKPOINT as a Hugging Face GPT-2 folder in OUT (transformers' GPT2LMHeadModel).

    Needs learned positions, LayerNorm and GELU or ReLU; a setting GPT-2 lacks is refused in one line.

    \b
    Example:
      blocklab export hf out/my-lm out/my-lm-hf
    """
    from ..nn.hf import export_hf as export_gpt2
    from ..nn.models.saving import load_model

    click.echo(export_gpt2(load_model(checkpoint, kind="GPT"), out))
