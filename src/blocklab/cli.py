"""The `blocklab` command line.

Every verb has --help. User errors (a bad config value, an unknown preset or study,
a malformed file) print one message and exit with code 2, never a traceback.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from .errors import BlocklabError

MODEL_KINDS = ("gpt", "seq2seq", "classifier")


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, object]:
    """`key=value` strings -> dict; values parse as JSON when they can (numbers, true, null), else strings."""
    out: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise BlocklabError(f"--set {pair!r} is not of the form key=value")
        key, raw = pair.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="blocklab")
def cli() -> None:
    """blocklab: every building block of the Transformer, proven by experiment."""


@cli.command()
@click.option("--preset", "preset_name", help="A named config (see the list at the end of --help).")
@click.option("--model", type=click.Choice(MODEL_KINDS), help="Start from this model's default config.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A JSON file of config fields.")
@click.option("--vocab", type=int, help="Vocabulary size (shorthand for --set vocab_size=N).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config field; repeatable.")
def info(preset_name: str | None, model: str | None, config_file: str | None, vocab: int | None, sets: tuple[str, ...]) -> None:
    """Print a model config and its parameter count by component.

    Example: blocklab info --preset paper-base --vocab 37000
    """
    from .nn import PRESETS, ClassifierConfig, GPTConfig, Seq2SeqConfig, build_model, parameter_summary, preset

    kinds = {"gpt": GPTConfig, "seq2seq": Seq2SeqConfig, "classifier": ClassifierConfig}
    changes = parse_assignments(sets)
    if vocab is not None:
        changes["vocab_size"] = vocab
    if config_file:
        changes = {**_read_json(config_file), **changes}
    if preset_name:
        cfg = preset(preset_name, **changes)
    else:
        cfg = kinds[model or "gpt"].from_dict(changes)
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


@cli.command()
@click.option("--seconds", default=8.0, show_default=True, help="Training time budget.")
@click.option("--seed", default=0, show_default=True)
def demo(seconds: float, seed: int) -> None:
    """Train a tiny GPT on a repeating pattern for a few seconds and print its loss falling."""
    from .demo import run_demo

    run_demo(seconds=seconds, seed=seed, echo=click.echo)


@cli.command(name="list")
def list_studies() -> None:
    """List the registered studies and groups, each with its one-line description."""
    from .studies.registry import ALL, GROUPS, STUDIES, group_members, load_all

    load_all()
    if not STUDIES:
        click.echo("no studies are registered yet (add a module to src/blocklab/studies/; see registry.py)")
        return
    width = max(len(n) for n in [*STUDIES, *GROUPS, ALL])
    for name, study in STUDIES.items():
        click.echo(f"{name:<{width}}  {study.description}")
    click.echo("groups (each runs its studies into subfolders):")
    for name, description in {**GROUPS, ALL: "every registered study"}.items():
        members = group_members(name)
        if members:
            click.echo(f"{name:<{width}}  {description} [{', '.join(members)}]")


@cli.command()
@click.argument("study")
@click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1 per cell.")
@click.option("--quick", is_flag=True, help="The study's fast variant (fewer steps, smaller grid).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default runs/STUDY[-quick]).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a study config field; repeatable.")
@click.option("--backend", type=click.Choice(["sequential", "ray"]), default="sequential", show_default=True,
              help="Run the (cell, seed) pairs one after another here, or as Ray tasks (pip install 'blocklab[ray]').")
@click.option("--address", help="With --backend ray: the cluster to join ('auto', 'ray://host:10001'); "
              "default RAY_ADDRESS, else a local Ray for this run.")
def run(study: str, seeds: int, quick: bool, device: str, out: str | None, sets: tuple[str, ...], backend: str,
        address: str | None) -> None:
    """Run a study (or a group): every cell on every seed, then its figures and claim verdicts.

    Rerunning into the same folder skips finished runs and resumes interrupted ones.
    Ends with a table of each study's status, wall time and pairs.
    Exits with 1 if a run failed or a study stopped with an error (kept in results.json and log.txt);
    in a group the other studies still run.
    Example: blocklab run skip-connections --quick --set depth=20
    """
    from .studies.runner import run_study, time_table

    if address is not None and backend != "ray":
        raise BlocklabError(f"--address {address!r} names a Ray cluster; add --backend ray")
    start = time.perf_counter()
    folder = run_study(study, seeds=seeds, quick=quick, device=device, out=out, overrides=parse_assignments(sets),
                       backend=backend, address=address)
    _summarize(folder)
    table, failed = time_table(folder, time.perf_counter() - start)
    click.echo(table)
    click.echo(f"results in {folder}; build the report with: blocklab report {folder}")
    if failed:
        sys.exit(1)


# The main job: studies whose --quick variant still trains to a meaningful result in seconds.
# (positional-encoding, capstone and ablation-matrix need their full step counts to learn.)
TOUR = ("paper-spec", "attention", "skip-connections", "encoder-decoder")


@cli.command()
@click.option("--out", default="runs/tour", show_default=True, type=click.Path(file_okay=False))
@click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1 per cell.")
def tour(out: str, seeds: int) -> None:
    """The lab's main job: a few studies at --quick, then the HTML report with the claims ledger.

    Takes about three minutes on 2 CPU cores; rerunning reuses what is finished.
    """
    from .report.html import build_report
    from .studies.runner import run_study

    start = time.perf_counter()
    failed = 0
    for name in TOUR:
        began = time.perf_counter()
        failed += _summarize(run_study(name, seeds=seeds, quick=True, out=Path(out) / name))
        click.echo(f"  ({time.perf_counter() - began:.0f} s)")
    click.echo(f"tour finished in {time.perf_counter() - start:.0f} s; report: {build_report(out)}")
    if failed:
        sys.exit(1)


def _summarize(folder: Path) -> int:
    """Print one line per results.json under folder (statuses and verdicts); return the failed count."""
    from .report.claims import study_verdicts
    from .report.results import find_results, load

    def details(v: dict) -> str:  # " (would be refuted; from a --quick run; 2 parts)"
        parts = [f"would be {v['would_be']}", v["provisional"]] if v["provisional"] else []
        parts += [f"{v['parts']} parts"] if v["parts"] > 1 else []
        return f" ({'; '.join(parts)})" if parts else ""

    failed = 0
    for path in find_results(folder):
        results = load(path)
        counts = {s: sum(r["status"] == s for r in results["runs"]) for s in ("done", "diverged", "failed")}
        failed += counts["failed"]
        verdicts = ", ".join(f"{claim} {v['verdict']}" + details(v) for claim, v in study_verdicts(results).items())
        click.echo(f"{results['study']}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
                   + f"; {verdicts or 'no claims'}")
    return failed


@cli.command()
@click.argument("folder", default="runs", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Where to write the site (default FOLDER/report).")
def report(folder: str, out: str | None) -> None:
    """Build the HTML report (index, claims ledger, a page per study) from every results.json in FOLDER."""
    from .report.html import build_report

    click.echo(build_report(folder, out))


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
def plot(folder: str) -> None:
    """Redraw every figure from the results.json files in FOLDER, without retraining."""
    from .studies.runner import replot

    for path in replot(folder):
        click.echo(f"redrew the figures of {path}")


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("prompt")
@click.option("--engine", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True,
              help="numpy: blocklab.autograd's GPT; torch: the same weights in blocklab.nn's GPT.")
@click.option("--max-new-tokens", default=80, show_default=True, type=click.IntRange(min=1))
@click.option("--temperature", default=0.0, show_default=True, help="0 is greedy decoding.")
@click.option("--top-k", type=int, help="Sample among the k most likely characters.")
@click.option("--top-p", type=float, help="Sample among the most likely characters holding this much probability.")
@click.option("--seed", default=0, show_default=True, help="Seeds the sampler.")
@click.option("--strict", is_flag=True, help="Refuse a prompt with characters outside the vocabulary "
              "(default: they become <unk>, with a note).")
def generate(checkpoint: str, prompt: str, engine: str, max_new_tokens: int, temperature: float, top_k: int | None,
             top_p: float | None, seed: int, strict: bool) -> None:
    """Continue PROMPT with a character GPT saved in CHECKPOINT (a folder the tinytorch-copilot study
    writes: model.safetensors, config.json, tokenizer.json) and print prompt and continuation.

    Example: blocklab generate runs/tinytorch-copilot/work/copilot/seed0/step2000 "def " --engine numpy
    """
    import torch

    from .autograd.checkpoint import load_checkpoint
    from .autograd.convert import to_torch
    from .autograd.tokenizer import UNK_ID

    model, tok = load_checkpoint(checkpoint)
    if not prompt:
        raise BlocklabError("the prompt is empty; give at least one character to continue")
    ids = tok.encode(prompt, errors="strict" if strict else "replace")
    unknown = sorted({c for c, i in zip(prompt, ids) if i == UNK_ID})
    if unknown:
        click.echo(f"note: {', '.join(map(repr, unknown))} not in the vocabulary; encoded as <unk> "
                   "(--strict refuses instead)", err=True)
    options = {"temperature": temperature, "top_k": top_k, "top_p": top_p,
               "generator": torch.Generator().manual_seed(seed)}
    if engine == "numpy":
        out = model.generate(ids[None], max_new_tokens, **options)[0]
    else:
        with torch.no_grad():
            out = to_torch(model).eval().generate(torch.from_numpy(ids)[None], max_new_tokens, **options)[0].numpy()
    click.echo(prompt + tok.decode(out[len(ids):]))


def _read_json(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BlocklabError(f"config file {path!r} does not exist") from None
    except json.JSONDecodeError as e:
        raise BlocklabError(f"config file {path!r} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BlocklabError(f"config file {path!r} must hold a JSON object of config fields")
    return data


from .commands.data import data as _data_group  # noqa: E402  (a group defined beside this file)

cli.add_command(_data_group)


from .commands.predict import predict  # noqa: E402  (blocklab predict CHECKPOINT PROMPT)

cli.add_command(predict)


from .bench.cli import bench as _bench_group  # noqa: E402  (the `bench` group, in blocklab/bench/)

cli.add_command(_bench_group)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become a message and exit code 2."""
    try:
        cli.main(args=argv, prog_name="blocklab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except BlocklabError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
