"""`blocklab list`, `show`, `run` and `tour`: name the studies, show their configs, run them, run the main job."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ..config import parse_assignments
from ..errors import BlocklabError
from . import _studies
from ._options import SEEDS, WORKERS, OutPath


def _complete_study(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of STUDY from the catalogue, so that pressing Tab imports no study."""
    return [name for name in _studies.names() if name.startswith(incomplete)]


@click.command(name="list")
def list_studies() -> None:
    """List the registered studies and groups, each study with its default seed count and one-line description."""
    cat = _studies.catalogue()
    if not cat.CATALOGUE:
        click.echo("no studies are registered yet (add one to src/blocklab/studies/catalogue.py; "
                   "see blocklab/lab/registry.py)")
        return
    width = max(len(n) for n in [*(e.name for e in cat.CATALOGUE), *cat.GROUPS, cat.ALL])
    click.echo(f"{'study':<{width}}  seeds  description   (seeds: `blocklab run STUDY`'s default; --quick runs 3)")
    for entry in cat.CATALOGUE:
        click.echo(f"{entry.name:<{width}}  {entry.seeds:>5}  {entry.description}")
    click.echo("groups (each runs its studies into subfolders):")
    for name, description in {**cat.GROUPS, cat.ALL: "every registered study"}.items():
        members = cat.members(name, cat.CATALOGUE)
        if members:
            click.echo(f"{name:<{width}}  {description} [{', '.join(members)}]")


@click.command()
@click.argument("study", shell_complete=_complete_study)
@click.option("--seeds", type=SEEDS, help="Seeds 0..N-1 per cell.  [default: the study's own, 5 or 10 (blocklab "
              "list shows it); 3 with --quick]")
@click.option("--quick", is_flag=True, help="The study's fast variant (fewer steps, smaller grid).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--out", type=OutPath(folder=True), help="Run folder (default runs/STUDY[-quick]).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a study config field; repeatable.")
@click.option("--jobs", type=WORKERS, envvar="BLOCKLAB_JOBS", show_envvar=True,
              help="(cell, seed) pairs run at once, each in its own process on one thread; 1 runs them one after "
              "another in this process.  [default: the machine's cores]")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Run the (cell, seed) pairs on this machine, or as Ray tasks (pip install 'blocklab[ray]').")
@click.option("--address", help="With --backend ray: the cluster to join ('auto', 'ray://host:10001'); "
              "default RAY_ADDRESS, else a local Ray for this run.")
@click.option("--dry-run", is_flag=True, help="Check everything a run checks (study, --set values, folder, device), "
              "say what would run, and stop: nothing is run or written.")
def run(study: str, seeds: int | None, quick: bool, device: str, out: str | None, sets: tuple[str, ...],
        jobs: int | None, backend: str, address: str | None, dry_run: bool) -> None:
    """Run a study (or a group): every cell on every seed, then its figures and claim verdicts.

    Without --seeds each study runs its own default seed count (`blocklab list`), 3 with --quick.
    Rerunning into the same folder skips finished runs and resumes interrupted ones.
    Ends with a table of each study's status, wall time and pairs.
    Exits with 1 if a run failed or a study stopped with an error (kept in results.json and log.txt);
    in a group the other studies still run. `blocklab list` names the studies and groups.

    \b
    Examples:
      blocklab run skip-connections --quick
      blocklab run skip-connections --quick --set 'depths=[20]' --seeds 1
      blocklab run attention --quick --set train.lr=3e-3 --set train.checkpoint_every=50
      blocklab run building-blocks --quick --out runs/blocks
      blocklab run all --quick --jobs 1
      blocklab run attention --quick --set train.lr=1e-2 --dry-run
    `blocklab show STUDY` lists the keys --set takes.
    """
    if address is not None and backend != "ray":
        raise BlocklabError(f"--address {address!r} names a Ray cluster; add --backend ray")
    from ..lab.processes import machine_cores

    runner = _studies.runner()
    if jobs is None:
        jobs = machine_cores() if backend == "local" else 1
    if dry_run:
        runner.check_options(seeds, backend, jobs)
        for p in runner.plan(study, quick, out, parse_assignments(sets), device, seeds):
            click.echo(f"{p.study.name}: {len(p.cells)} cells x {p.seeds} seeds, {p.pending()} pairs to run, "
                       f"on {p.device}, into {p.folder}")
        click.echo("dry run: nothing was run or written")
        return
    start = time.perf_counter()
    folder = runner.run_study(study, seeds=seeds, quick=quick, device=device, out=out,
                              overrides=parse_assignments(sets), backend=backend, address=address, jobs=jobs)
    _summarize(folder)
    table, failed = runner.time_table(folder, time.perf_counter() - start)
    click.echo(table)
    click.echo(f"results in {folder}; build the report with: blocklab report {folder}")
    if failed:
        sys.exit(1)


@click.command()
@click.argument("study", shell_complete=_complete_study)
def show(study: str) -> None:
    """Print a study's default seeds and its config: every field --set takes, with its type, default and --quick value.

    A nested config's fields are dotted (train.lr, train.checkpoint_every); the --quick column
    is blank where --quick keeps the default.

    \b
    Examples:
      blocklab show skip-connections
      blocklab show pe-extrapolation
    """
    from ..config import describe, render

    registry = _studies.registry()
    registry.load_all()
    members = registry.group_members(study)
    if members is not None:
        raise BlocklabError(f"{study!r} is a group; show one of its studies: {', '.join(members)}")
    cls = type(registry.get_study(study))
    click.echo(f"{cls.name}: {cls.description}")
    click.echo(f"seeds: {cls.seeds} (--quick: {registry.QUICK_SEEDS}; --seeds N runs 0..N-1)")
    click.echo(render(describe(cls.Config, cls.quick)))


# The main job: studies whose --quick variant still trains to a meaningful result in seconds.
# (positional-encoding, capstone and ablation-matrix need their full step counts to learn.)
TOUR = ("paper-spec", "attention", "skip-connections", "encoder-decoder")
# And one model to ask with `blocklab predict` afterwards: training-dynamics' headline recipe on the
# seed split, one seed (~14 CPU s), saved in runs/tour/training-dynamics/models/headline-seed-r0/seed0.
TOUR_MODEL = ("training-dynamics", 1, {"parts": ["headline"], "splits": ["seed"]})
TOUR_MODEL_FOLDER = "models/headline-seed-r0/seed0"  # where that study keeps the pair's model


@click.command()
@click.option("--out", default="runs/tour", show_default=True, type=OutPath(folder=True))
@click.option("--seeds", default=3, show_default=True, type=SEEDS, help="Seeds 0..N-1 per cell.")
def tour(out: str, seeds: int) -> None:
    """The lab's main job: a few studies at --quick, then the HTML report with the claims ledger.

    Takes about three minutes on 2 CPU cores; rerunning reuses what is finished. The last study,
    training-dynamics' headline recipe alone (one seed), leaves a model for `blocklab predict`.
    """
    from ..lab.report import build_report

    runner = _studies.runner()
    start = time.perf_counter()
    failed = 0
    for name, n_seeds, overrides in [*((name, seeds, None) for name in TOUR), TOUR_MODEL]:
        began = time.perf_counter()
        failed += _summarize(runner.run_study(name, seeds=n_seeds, quick=True, out=Path(out) / name,
                                              overrides=overrides))
        click.echo(f"  ({time.perf_counter() - began:.0f} s)")
    click.echo(f"ask its model: blocklab predict {Path(out) / TOUR_MODEL[0] / TOUR_MODEL_FOLDER} "
               '"Max(5,3,9)" --top 3')
    click.echo(f"tour finished in {time.perf_counter() - start:.0f} s; report: {build_report(out)}")
    if failed:
        sys.exit(1)


def _summarize(folder: Path) -> int:
    """Print one line per results.json under folder (statuses and verdicts); return the failed count."""
    from ..report.claims import study_verdicts
    from ..report.results import find_results, load

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
