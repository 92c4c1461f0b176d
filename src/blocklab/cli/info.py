"""`blocklab info`: a model config and its parameter count by component."""
from __future__ import annotations

import click

from ..config import parse_assignments
from ._options import InPath, read_config_file

MODEL_KINDS = ("gpt", "seq2seq", "classifier")


@click.command()
@click.option("--preset", "preset_name", help="A named config (`blocklab info` lists them on its last line).")
@click.option("--model", type=click.Choice(MODEL_KINDS), help="Start from this model's default config.")
@click.option("--config", "config_file", type=InPath(dir_okay=False), help="A JSON file of config fields.")
@click.option("--vocab", type=int, help="Vocabulary size (shorthand for --set vocab_size=N).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config field; repeatable.")
def info(preset_name: str | None, model: str | None, config_file: str | None, vocab: int | None,
         sets: tuple[str, ...]) -> None:
    """Print a model config and its parameter count by component.

    \b
    Examples:
      blocklab info --preset paper-base --vocab 37000
      blocklab info --model seq2seq --set n_encoder_layers=2 --set n_decoder_layers=2
    """
    import torch

    from ..nn import PRESETS, ClassifierConfig, GPTConfig, Seq2SeqConfig, build_model, parameter_summary, preset

    kinds = {"gpt": GPTConfig, "seq2seq": Seq2SeqConfig, "classifier": ClassifierConfig}
    changes = parse_assignments(sets)
    if vocab is not None:
        changes["vocab_size"] = vocab
    if config_file:
        changes = {**read_config_file(config_file), **changes}
    if preset_name:
        cfg = preset(preset_name, **changes)
    else:
        cfg = kinds[model or "gpt"].from_dict(changes)
    with torch.device("meta"):  # shapes only: counting a large model's parameters allocates nothing
        summary = parameter_summary(build_model(cfg))
    label = preset_name or (model or "gpt")
    click.echo(f"{label}: {type(cfg).__name__}")
    for key, value in cfg.to_dict().items():
        click.echo(f"  {key:<18} {value}")
    click.echo("parameters by component:")
    total = summary.pop("total")
    for comp, n in summary.items():
        click.echo(f"  {comp:<18} {n:>13,}  {100 * n / total:5.1f}%")
    click.echo(f"  {'total':<18} {total:>13,}  ({total / 1e6:.2f}M)")
    click.echo(f"presets: {', '.join(PRESETS)}")
