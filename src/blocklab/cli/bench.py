"""`blocklab bench`: every sub-benchmark prints its table and writes runs/bench/NAME.json.

Each one warms up, fixes the thread count, times its contenders alternately and reports the
median with the quartiles. No test asserts a time; the figures in the README come from
`blocklab bench all`, whose JSON records the machine and the load it ran under.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import BlocklabError
from ._options import WORKERS, Listed, OutPath, output_problem

THREADS_HELP = "Threads for torch (and numpy's BLAS); every contender runs on the same number."
SEED_COUNTS = Listed(click.IntRange(2, 100))
CONFIG_LIST = Listed(click.Choice(("quick", "full")))


def _common(fn):
    fn = click.option("--out", default="runs/bench", show_default=True, type=OutPath(folder=True),
                      help="Folder for the JSON files.")(fn)
    fn = click.option("--device", default="auto", show_default=True,
                      help="auto (cuda when present), cpu or cuda.")(fn)
    fn = click.option("--quick", is_flag=True, help="Fewer repeats and sizes: a short check of the whole suite.")(fn)
    fn = click.option("--repeats", type=click.IntRange(min=1),
                      help="Timed calls per contender (default per benchmark).")(fn)
    return click.option("--threads", default=1, show_default=True, type=WORKERS, help=THREADS_HELP)(fn)


@click.group()
def bench() -> None:
    """Benchmarks that print a table and write JSON (runs/bench/*.json).

    \b
    Examples:
      blocklab bench all --quick
      blocklab bench gpt --threads 2 --compile
      blocklab bench engine --repeats 10
    """


def _command(name: str, threads: int, repeats: int | None, quick: bool, device: str, out: str, extra: str = "") -> str:
    parts = ["blocklab bench", name, f"--threads {threads}", f"--device {device}", f"--out {out}"]
    parts += [f"--repeats {repeats}"] if repeats else []
    parts += ["--quick"] if quick else []
    return " ".join(parts) + extra


def _machine(device: str, threads: int):
    """The torch device `device` names, and the description of this machine every JSON records."""
    from ..bench.timing import environment
    from ..train.device import resolve_device

    dev = resolve_device(device)
    return dev, environment(dev, threads)


def _finish(dev, name: str, command: str, env: dict, result: object, out: str, text: str) -> None:
    from ..bench.timing import cuda_note, write_json

    click.echo(text)
    note = cuda_note(dev)
    if note:
        click.echo(note)
    path = Path(out) / f"{name}.json"
    write_json(path, command, env, result)
    click.echo(f"wrote {path}")


def run_gpt(threads: int, repeats: int | None, quick: bool, device: str, out: str, compile: bool,
            curve_steps: int | None) -> None:
    from ..bench.breakdown import breakdown_lines
    from ..bench.gpt import bench_step, curve_line, loss_curves, paper_base_mfu, step_table
    from ..bench.peers import SIZES
    from ..bench.timing import fixed_threads

    dev, env = _machine(device, threads)
    extra = (" --compile" if compile else "") + (f" --curve-steps {curve_steps}" if curve_steps else "")
    command = _command("gpt", threads, repeats, quick, device, out, extra)
    # nanoGPT's CPU size trains 200 curve steps in about a minute on one core; the larger one
    # takes seconds per step on a CPU, so its curve is shorter unless --curve-steps says otherwise.
    plan = {"nanogpt-cpu": (repeats or (5 if quick else 15), curve_steps or (50 if quick else 200)),
            "gpt-6x384": (repeats or (2 if quick else 5), curve_steps or (5 if quick else 20))}
    results, curves = [], {}
    with fixed_threads(threads):
        for name, (reps, steps) in plan.items():
            size = SIZES[name]
            results.append(bench_step(size, repeats=reps, warmup=1 if quick else 2, device=dev, compile=compile,
                                      profile_steps=max(1, reps // 3)))
            curves[name] = loss_curves(size, steps, dev)
        mfu = None
        if dev.type == "cuda":
            mfu = paper_base_mfu(dev, batch=64, src_len=256, tgt_len=256, repeats=repeats or 10, warmup=3)
    lines = [step_table(results), f"optimizer, every contender: {results[0]['optimizer']}"]
    lines += [line for r in results if "breakdown" in r for line in breakdown_lines(r["size"]["name"], r["breakdown"])]
    lines += [curve_line(name, c) for name, c in curves.items()]
    if mfu is not None:
        peak = (f"{100 * mfu['mfu']:.1f}% of {mfu['peak_tflops']:.0f} TFLOP/s" if mfu["mfu"] is not None
                else "peak unknown")
        lines.append(f"paper-base training step on {mfu['device_name']}: {mfu['ms']:.1f} ms, "
                     f"{mfu['flops_per_s'] / 1e12:.1f} TFLOP/s, MFU {peak}")
    else:
        lines.append("paper-base MFU: not measured (it needs a CUDA GPU)")
    _finish(dev, "gpt", command, env, {"steps": results, "loss_curves": curves, "paper_base_mfu": mfu}, out,
            "\n".join(lines))


def run_attention(threads: int, repeats: int | None, quick: bool, device: str, out: str) -> None:
    from ..bench.attention import LENGTHS, QUICK_LENGTHS, attention_table, bench_attention
    from ..bench.timing import fixed_threads

    dev, env = _machine(device, threads)
    with fixed_threads(threads):
        result = bench_attention(QUICK_LENGTHS if quick else LENGTHS, repeats=repeats or (2 if quick else 5),
                                 warmup=1, device=dev)
    _finish(dev, "attention", _command("attention", threads, repeats, quick, device, out), env, result, out,
            attention_table(result))


def run_generate(threads: int, repeats: int | None, quick: bool, device: str, out: str) -> None:
    from ..bench.generate import bench_generate, generate_table
    from ..bench.timing import fixed_threads

    dev, env = _machine(device, threads)
    with fixed_threads(threads):
        result = bench_generate(repeats=repeats or (2 if quick else 5), warmup=1, device=dev)
    _finish(dev, "generate", _command("generate", threads, repeats, quick, device, out), env, result, out,
            generate_table(result))


def run_engine(threads: int, repeats: int | None, quick: bool, out: str) -> None:
    from ..autograd.bench import BENCH_CONFIGS, bench_engine, bench_table
    from ..bench.timing import write_json

    repeats = repeats or (10 if quick else 50)
    dev, env = _machine("cpu", threads)
    results = [bench_engine(name, repeats=max(repeats, 2), threads=threads) for name in BENCH_CONFIGS]
    command = f"blocklab bench engine --repeats {max(repeats, 2)} --threads {threads} --out {out}"
    click.echo(bench_table(results))
    write_json(out, command, env, results)
    click.echo(f"wrote {out}")


@bench.command("gpt")
@_common
@click.option("--compile", "compile_", is_flag=True, help="Also time every contender under torch.compile.")
@click.option("--curve-steps", type=click.IntRange(min=1), help="Steps of the fused-vs-explicit loss curves.")
def gpt_cmd(threads, repeats, quick, device, out, compile_, curve_steps) -> None:
    """GPT training step: blocklab vs torch.nn.TransformerEncoderLayer vs transformers' GPT-2, at
    nanoGPT's CPU size (4x128, context 64, batch 12) and 6x384 (context 256); ms/step,
    tokens/s, parameter counts, and the fused-vs-explicit loss curves. On CUDA: bf16 autocast
    and the paper-base model's MFU."""
    run_gpt(threads, repeats, quick, device, out, compile_, curve_steps)


@bench.command("attention")
@_common
def attention_cmd(threads, repeats, quick, device, out) -> None:
    """Explicit vs fused causal attention, forward + backward: time and peak memory up to T = 4096."""
    run_attention(threads, repeats, quick, device, out)


@bench.command("generate")
@_common
def generate_cmd(threads, repeats, quick, device, out) -> None:
    """Tokens per second for 256 new tokens, with and without the KV cache."""
    run_generate(threads, repeats, quick, device, out)


@bench.command("engine")
@click.option("--repeats", default=50, show_default=True, type=click.IntRange(min=2), help="Timed calls per contender.")
@click.option("--threads", default=1, show_default=True, type=WORKERS,
              help="Threads for torch and for numpy's BLAS alike.")
@click.option("--out", default="runs/bench/engine.json", show_default=True, type=OutPath(folder=False))
def engine_cmd(repeats: int, threads: int, out: str) -> None:
    """One training step and one forward pass of source document 004's Level 1 and Copilot GPTs:
    the numpy engine against blocklab.nn's GPT in PyTorch (written-out LayerNorm, and fused), timed
    alternately in one process; medians with quartiles, and the numpy engine's time as a multiple."""
    run_engine(threads, repeats, False, out)


@bench.command("stacked")
@click.option("--study", required=True, help="A study that prepares its cells (capstone, ablation-matrix, ...).")
@click.option("--cell", help="The cell to train (default: the study's first).")
@click.option("--seeds", "ks", default="3,5,10", show_default=True, type=SEED_COUNTS,
              help="Seed counts K to time, comma-separated.")
@click.option("--steps", type=click.IntRange(min=1), help="Cap on the training steps (default: the config's own).")
@click.option("--config", "configs", default="quick,full", show_default=True, type=CONFIG_LIST,
              help="Which of the study's configs: quick, full or both.")
@click.option("--threads", default=1, show_default=True, type=WORKERS, help=THREADS_HELP)
@click.option("--device", default="cpu", show_default=True, help="auto (cuda when present), cpu or cuda.")
@click.option("--out", default="runs/bench", show_default=True, type=OutPath(folder=True),
              help="Folder for the JSON file (stacked-STUDY.json).")
def stacked_cmd(study, cell, ks, steps, configs, threads, device, out) -> None:
    """A study's seeds trained one by one (fit) or together as one stacked model (fit_stacked): CPU
    seconds per model for K seeds of its --quick and full configs, and the ratio (below 1 it pays).
    The studies that say their cells stack were chosen with it (docs/training.md)."""
    from ..bench.stacked import bench_stacked, stacked_table
    from ..bench.timing import fixed_threads, write_json

    dev, env = _machine(device, threads)
    with fixed_threads(threads):
        result = bench_stacked(study, ks, configs, cell, steps, str(dev))
    command = (f"blocklab bench stacked --study {study} --seeds {','.join(map(str, ks))} --config {','.join(configs)}"
               f" --threads {threads} --device {device} --out {out}" + (f" --cell {cell}" if cell else "")
               + (f" --steps {steps}" if steps else ""))
    click.echo(stacked_table(result))
    path = Path(out) / f"stacked-{study}.json"
    write_json(path, command, env, result)
    click.echo(f"wrote {path}")


@bench.command("all")
@_common
def all_cmd(threads, repeats, quick, device, out) -> None:
    """Every benchmark in turn (gpt, attention, generate, engine); about 10 minutes on 2 cores, --quick ~2."""
    engine_json = Path(out) / "engine.json"
    problem = output_problem(engine_json, folder=False)
    if problem:  # refused now, not after three benchmarks
        raise BlocklabError(f"--out {out}: {problem}")
    for title, run in (("gpt", lambda: run_gpt(threads, repeats, quick, device, out, False, None)),
                       ("attention", lambda: run_attention(threads, repeats, quick, device, out)),
                       ("generate", lambda: run_generate(threads, repeats, quick, device, out)),
                       ("engine", lambda: run_engine(threads, repeats, quick, str(engine_json)))):
        click.echo(f"== bench {title}")
        run()
