"""How a study is written, and the registry `blocklab run` and `blocklab list` read.

A study is one experiment from the seeds: a config of knobs, a grid of conditions
("cells"), a function that runs one cell for one seed and returns its metrics, and two
functions that read only the finished results: one draws figures, one measures claims.
The runner (blocklab.lab.runner) does everything else: seeds, devices, progress bars, resuming,
results.json, aggregates with 95% intervals, and the command that reproduces the run.
A study is a module (or a package whose study.py holds the class) under blocklab.studies, listed
in blocklab.studies.catalogue; importing it registers it.

    from dataclasses import dataclass, field
    from blocklab.config import Config, NonEmpty, PositiveInt
    from blocklab.lab.registry import Cell, Study, register
    from blocklab.report import plots
    from blocklab.report.gallery import Caption
    from blocklab.report.results import finished_runs, seed_values
    from blocklab.report.tables import Table
    from blocklab.report.verdicts import Measurement, around
    from blocklab.report.viewer import Viewer
    from blocklab.train import TrainConfig
    from blocklab.train.trainer import fit

    @dataclass
    class SkipConfig(Config):              # every knob, ranged, with its full-fidelity default
        depths: NonEmpty[tuple[PositiveInt, ...]] = (10, 20)
        train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000))  # --set train.lr=3e-3

    @register
    class SkipConnections(Study):
        name = "skip-connections"          # what `blocklab run` takes: lowercase, digits, dashes
        description = "45: plain vs residual deep networks"   # one line, for `blocklab list`
        claims = ("C000-01", "C000-02")    # IDs from report/claims.md that measure() measures
        group = "building-blocks"          # optional: `blocklab run building-blocks` runs it too
        Config = SkipConfig
        quick = {"train.steps": 200}       # --quick: these overrides of the defaults
        seeds = 10                         # optional: seeds at full fidelity (default 5; --quick runs 3)

        def cells(self, cfg):              # the conditions; names become folder names
            return [Cell(f"{kind}-{d}", {"residual": kind == "residual", "depth": d})
                    for kind in ("plain", "residual") for d in cfg.depths]

        def run_cell(self, cell, seed, ctx):    # python, numpy and torch RNGs are seeded with `seed`
            model, data, loss_fn = ...     # built from cell.params and ctx.cfg
            train = ctx.cfg.train.replace(seed=seed, device=ctx.device)   # never copy its fields by hand
            result = fit(model, data, loss_fn, train, run_dir=ctx.work_dir, progress=ctx.progress)
            model.save(ctx.model_dir)      # a blocklab.nn model: kept for load_any and the CLI
            return {"test_acc": ..., **result.to_dict()}   # to_dict() says diverged=True if it did

        def figures(self, results, fig_dir):    # from `results` (the results.json dict) only
            fig, ax = plots.figure()
            for c in results["cells"]:
                curves = [[h["val_acc"] for h in r["metrics"]["history"]] for r in finished_runs(results, c["name"])]
                plots.line_with_band(ax, None, curves, label=c["name"], scale=plots.ACCURACY)
            return [plots.save(fig, fig_dir, "45_skip_connections_training.png")]

        def measure(self, results):
            return [Measurement("C000-01", "~50% (chance)", seed_values(results, "plain-10", "test_acc"),
                                unit="%", rule=around(50, 5))]

        claim_figures = {"C000-01": ("45_skip_*.png",)}   # optional: the figures (names or globs) its card shows
        figure_captions = {"45_skip_connections_training.png": "Validation accuracy per step, plain vs residual",
                           "45_skip_connections_dense.png": Caption("P(arm 1) over the plane", seeds="first")}

        def viewers(self, results):        # optional, for a study whose run_cell saves its model with model.save:
            return [Viewer("residual-10", VOCAB, ("a b c",))]   # how the report's attention viewer runs it

        def finding(self, results):        # optional: the README's one line (default: the claims' verdicts)
            return f"plain-10 learns {mean(seed_values(results, 'plain-10', 'test_acc')):.1f}%"

        def tables(self, results):         # optional: more tables for the study's report page
            rows = [[c["name"], *seed_values(results, c["name"], "test_acc")] for c in results["cells"]]
            return [Table("Test accuracy by seed", ["cell", *(f"seed {s}" for s in results["seeds"])], rows)]

Rules of the game:
- `run_cell` returns a JSON-serializable dict (numbers, strings, lists, dicts; numpy and
  tensor values are converted, NaN becomes null). `diverged: True` in it (as in a
  TrainResult's to_dict()) records the pair as "diverged" rather than "done": divergence is
  an outcome. An exception records the pair as "failed" and the study goes on; a failed pair
  is retried on the next run, a done or diverged one never is. An expected error that is
  itself the finding (a dimension mismatch that must fail clearly) is caught by the study
  and returned as a metric.
- `ctx` (CellContext) gives `cfg` (the Config instance), `device`, `work_dir` (one folder per
  (cell, seed), kept across interrupts: pass it to `fit` as run_dir so that an interrupted
  pair resumes from its checkpoint), `progress` (pass it as fit's progress=), `log` (a
  logging.Logger, shown above the progress bars and kept in log.txt), `seed`, `quick` and
  `model_dir` (<run>/models/<cell>/seed<k>): a pair that trains a GPT, Seq2SeqTransformer or
  EncoderClassifier keeps its final model there with `model.save(ctx.model_dir)` (with its
  tokenizer when it has one), the folder `load_any`, `blocklab generate` and `predict` read
  (docs/models.md, "Models a study keeps").
- `figures`, `measure` and `tables` must read only `results`: `blocklab plot` redraws figures without
  retraining, and rerunning a finished study recomputes figures and measurements in seconds.
  Numeric metrics are aggregated per cell, nested ones under dotted names ("final.val_acc",
  which seed_values also reads). Helpers: report.results, report.plots, report.verdicts.
- `Config` is a blocklab.config.Config: each field's annotation is its rule (PositiveInt,
  Probability, NonEmpty[...], Literal choices), checked when it is built, so a bad `--set` is
  refused before any work; cross-field rules go in `validate()`. A study that trains nests the
  trainer's TrainConfig (`train`, or one per kind of model) and a dotted key reaches it
  (`--set train.lr=3e-3`, `--set train.checkpoint_every=100`); the runner sets its seed and
  device for each pair. `blocklab show STUDY` lists every key.
- Seeds trained together (docs/training.md): a study whose cell trains one model with `fit` may
  split run_cell into `prepare` (build the model, data and TrainConfig under the pair's seed: a
  `Training`) and `conclude` (the metrics, from the trained model and fit's TrainResult), and
  run_cell into `train_and_conclude(self, cell, seed, ctx)`. Then `stacks(cell, cfg)` returning True
  lets the runner hand a worker every pending seed of that cell at once: each is prepared under its
  own seed, all train in one train.stacked.fit_stacked, and each is concluded, giving the metrics
  run_cell gives up to float rounding. Say True only where `blocklab bench stacked --study NAME`
  shows that it pays, and only for cells whose training fit_stacked can do (no dropout, callbacks
  or early stopping); a stacked cell restarts from step 0 when interrupted (no checkpoints).
- `seeds` is the study's default seed count at full fidelity: 5 (what a claim needs before its verdict
  stops being provisional) unless the study sets more; 10 where one seed of the full grid costs a few
  CPU minutes. `--seeds N` overrides it and `--quick` runs QUICK_SEEDS (3).
- Name the study in blocklab/studies/catalogue.py too, in source-document order: `blocklab list`
  reads it there without importing any study, `run all` follows its order, and a test checks
  that the two agree.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from ..config import Config, build
from ..errors import BlocklabError, ConfigError
from ..report.claims import claim_ids
from ..report.findings import default_finding
from ..report.gallery import Caption
from ..report.verdicts import MIN_SEEDS
from ..studies.catalogue import ALL, CATALOGUE, GROUPS

if TYPE_CHECKING:  # torch only for the annotations: `blocklab list` and the CLI's start-up import this module
    from torch import nn

    from ..train import TrainConfig
    from ..train.data import Split
    from ..train.evaluate import LossFn
    from ..train.result import TrainResult

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CELL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+,-]*$")


@dataclass
class Cell:
    """One condition of a study: a folder-safe name and the parameters run_cell reads."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass
class CellContext:
    """What the runner hands run_cell for one (cell, seed)."""

    study: str
    cfg: Any  # the study's Config instance for this run
    cell: Cell
    seed: int
    device: str
    work_dir: Path
    quick: bool
    progress: Callable[..., None]  # progress(step, total, info=None), the trainer's signature
    log: logging.Logger
    model_dir: Path  # <run>/models/<cell>/seed<k>: the pair's final model, in the one model format


@dataclass
class Training:
    """One pair's training, built and not yet run: what fit takes, and what `conclude` reads besides the
    trained model (`keep`: the task, probes, ...)."""

    model: nn.Module
    data: dict[str, Split]
    loss_fn: LossFn
    train: TrainConfig  # with the pair's seed and device
    keep: Any = None


class Study:
    """Base class of every study; see the module docstring for what to fill in."""

    name: ClassVar[str]
    description: ClassVar[str]
    claims: ClassVar[tuple[str, ...]] = ()
    group: ClassVar[str] = ""
    question: ClassVar[str] = ""  # for the report, one paragraph: what the study asks (default: its docstring's first)
    # claim ID -> the figures that show it on its card: file names, or globs for names that depend on the config
    claim_figures: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # figure file name or glob -> what it plots, a Caption (or a string: the mean over seeds, with bands); the report
    # adds which seeds and what the bands are. Every figure the study draws has one (tests/studies/test_captions.py).
    figure_captions: ClassVar[Mapping[str, str | Caption]] = {}
    Config: ClassVar[type]
    quick: ClassVar[Mapping[str, Any]] = {}
    seeds: ClassVar[int] = MIN_SEEDS  # `blocklab run` without --seeds runs seeds 0..seeds-1 (QUICK_SEEDS with --quick)

    def cells(self, cfg: Any) -> list[Cell]:
        raise NotImplementedError

    def run_cell(self, cell: Cell, seed: int, ctx: CellContext) -> dict:
        raise NotImplementedError

    def figures(self, results: dict, fig_dir: Path) -> list[str]:
        return []

    def measure(self, results: dict) -> list:
        return []

    def tables(self, results: dict) -> list:
        return []

    def stacks(self, cell: Cell, cfg: Any) -> bool:
        """Whether the seeds of `cell` train together (prepare, fit_stacked, conclude); False by default."""
        return False

    def prepare(self, cell: Cell, seed: int, ctx: CellContext) -> Training:
        """The cell's model (built after the runner seeded every generator with `seed`), data and TrainConfig."""
        raise NotImplementedError(f"{self.name} does not split its cells into prepare and conclude")

    def conclude(self, cell: Cell, training: Training, result: TrainResult, ctx: CellContext) -> dict:
        """run_cell's metrics, from the trained training.model and fit's result; it must draw no random numbers
        (the generators' state after training differs between fit and fit_stacked)."""
        raise NotImplementedError(f"{self.name} does not split its cells into prepare and conclude")

    def finding(self, results: dict) -> str:
        """The study's finding in one line, from `results` only, for the README's studies table (`blocklab readme`):
        by default each claim's verdict with its measured value (report.findings.default_finding)."""
        return default_finding(results)

    def viewers(self, results: dict) -> list:
        """How the report's attention viewer runs the models this study saves (report.viewer.Viewer, one per cell
        that saves them, preferred first), from `results` only; none by default."""
        return []


STUDIES: dict[str, type[Study]] = {}


def register(cls: type[Study]) -> type[Study]:
    """Class decorator: check a study's declaration and make it runnable by name."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name) or name == ALL or name in GROUPS:
        raise TypeError(f"{cls.__name__}.name={name!r}: use lowercase letters, digits and dashes, not a group name")
    if name in STUDIES and STUDIES[name] is not cls:
        raise TypeError(f"two studies are named {name!r}: {STUDIES[name].__name__} and {cls.__name__}")
    description = getattr(cls, "description", "")
    if not description or "\n" in description:
        raise TypeError(f"{cls.__name__}.description must be one non-empty line")
    config = getattr(cls, "Config", None)
    if not (dataclasses.is_dataclass(config) and isinstance(config, type) and issubclass(config, Config)):
        raise TypeError(f"{cls.__name__}.Config must be a blocklab.config.Config dataclass of the study's knobs")
    if cls.group and cls.group not in GROUPS:
        raise TypeError(f"{cls.__name__}.group={cls.group!r}; known groups: {', '.join(GROUPS)}")
    unknown = [c for c in cls.claims if c not in claim_ids()]
    if unknown:
        raise TypeError(f"{cls.__name__}.claims names IDs that are not in report/claims.md: {unknown}")
    stray = [c for c in cls.claim_figures if c not in cls.claims]
    if stray:
        raise TypeError(f"{cls.__name__}.claim_figures names claims the study does not measure: {stray}; its "
                        f"claims: {', '.join(cls.claims) or 'none'}")
    if not isinstance(cls.seeds, int) or isinstance(cls.seeds, bool) or cls.seeds < 1:
        raise TypeError(f"{cls.__name__}.seeds={cls.seeds!r}: the default seed count must be a positive integer")
    build_config(cls, quick=True)  # a typo in `quick` fails at import, not at the first --quick run
    STUDIES[name] = cls
    return cls


def load_all() -> None:
    """Import every study module listed in blocklab.studies.catalogue, in that order, so that
    each study registers itself (the lab names the package by string: it never imports a study)."""
    for entry in CATALOGUE:
        importlib.import_module(entry.module)


def group_members(name: str) -> list[str] | None:
    """Study names in a group, in the order of blocklab.studies.catalogue (source-document
    order), then any study registered from elsewhere (a test's) in registration order;
    None when `name` is not a group."""
    if name != ALL and name not in GROUPS:
        return None
    order = {e.module: i for i, e in enumerate(CATALOGUE)}
    ordered = sorted(STUDIES, key=lambda s: order.get(STUDIES[s].__module__, len(order)))
    return [s for s in ordered if name == ALL or STUDIES[s].group == name]


def get_study(name: str) -> Study:
    """A fresh instance of a registered study; an unknown name lists the valid ones."""
    load_all()
    if name not in STUDIES:
        valid = ", ".join([*STUDIES, *GROUPS, ALL])
        raise BlocklabError(f"unknown study {name!r}; choose one of: {valid}")
    return STUDIES[name]()


def build_config(study: type[Study] | Study, quick: bool = False, overrides: Mapping[str, Any] | None = None) -> Any:
    """The study's Config with the --quick overrides (if asked) and then --set ones applied.

    Keys may be dotted to reach a nested config (`train.lr`); each value must fit its field's
    annotation (blocklab.config.build). Errors name the key, the value and the valid keys.
    """
    for key in overrides or {}:
        if key.rpartition(".")[2] in RUNNER_SET and "." in key:
            raise ConfigError(f"{study.name}: --set {key} is set for each run by the runner (seeds 0..N-1 from "
                              "--seeds, the device from --device); it cannot be set here")
    return build(study.Config, overrides, quick=study.quick if quick else None, owner=study.name)


def default_seeds(study: type[Study] | Study, quick: bool) -> int:
    """How many seeds `blocklab run` gives a study when --seeds is not given: its own `seeds` at full fidelity,
    QUICK_SEEDS with --quick (a fast look, whose verdicts are provisional whatever the seeds)."""
    return QUICK_SEEDS if quick else study.seeds


QUICK_SEEDS = 3
RUNNER_SET = ("seed", "device")  # the trainer settings the runner gives each (cell, seed) pair


def train_and_conclude(study: Study, cell: Cell, seed: int, ctx: CellContext) -> dict:
    """run_cell of a study that prepares and concludes: one pair trained alone by fit, resumable from ctx.work_dir."""
    from ..train.trainer import fit

    training = study.prepare(cell, seed, ctx)
    result = fit(training.model, training.data, training.loss_fn, training.train, run_dir=ctx.work_dir,
                 progress=ctx.progress)
    return study.conclude(cell, training, result, ctx)
