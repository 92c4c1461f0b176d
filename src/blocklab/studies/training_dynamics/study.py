"""Source document 001: how a 2-block Transformer learns First/Second/Last/Max/Min, epoch by epoch.

Task (tasks/operations.py): `Op ( a , b , c )` -> the answer digit's token, predicted over the
20-token vocabulary from the logits at the last position. 10k/2k/2k rows, an equal share per
op. There are only 5,000 distinct inputs, so the seed's split repeats them and its test set
overlaps training (~86% of test rows occur in training); every main cell runs on both the
seed's split and a disjoint one (no input in two splits), and the report gives the difference.

Model (nn/models/operations.py): the seed's table, fixed: 2 blocks, d_model 64, 4 heads,
FFN 256, dropout 0.1, sinusoidal positions, W_output + b_output.

Cells (the seed's recipe is Adam, lr 1e-3, constant, batch 32, 50 epochs of 312 updates):
  baseline-<split>       the seed's recipe, recorded every epoch (record.py);
                         (every cell keeps its model in models/<cell>/seed<k>, for `blocklab predict`)
  headline-<split>-r<j>  the fastest recipe found for the seed's architecture (training choices
                         only: batch, lr, schedule, epochs); `headline_replicas` runs per split
                         and runner seed (model and data seed = seed + 1000 j), so 3 seeds x 2
                         replicas give 6 runs; validation is checked 4x per epoch to time 95%/99%
  sweeps                 one factor of the seed's recipe changed, each on a fixed budget of
                         `sweep_epochs` epochs of the 10k set (3,120 updates at batch 32):
      size-<n>[-disjoint]  n training rows, the SAME number of updates (1k: 100 epochs, 50k: 2)
      optimizer-<name>     sgd (no momentum) and sgd-momentum (0.9), lr 1e-3
      lr-<value>           Adam at that lr
      schedule-<name>      warmup (1 epoch linear, then constant), cosine (to 0 at the end),
                           step (x0.1 after each third of the budget)
      batch-<b>            the same examples (sweep_epochs epochs); batch 1 is capped at
                           `batch1_updates` updates (1 epoch) for time
      ablate-<part>        no-block2 (n_layers 1), no-attention (mixer "mean": the seed's
                           average pooling), no-ffn, no-residual, no-layernorm, no-pe
  gen-*                  generalization (generalize.py): unseen inputs, orderings,
                         held-out digits, lengths, Middle zero-shot, longer training
  The reference for every sweep is baseline-seed at epoch `sweep_epochs`: with a constant lr
  that is the same training run (same seed, data and sampler), so it is not run twice.
Interrupts: a finished (cell, seed) is never rerun; one interrupted mid-training restarts
from step 0 (pairs take minutes, and the per-epoch recorder keeps state a checkpoint lacks).
Timing: CPU seconds of training (process time, the recorder's own work excluded) and wall
seconds, with the load average; on a shared machine wall time is inflated, CPU time less so.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Literal

import torch

from blocklab.config import NonEmpty, NonNegativeInt, PositiveFloat, PositiveInt
from blocklab.lab.registry import Cell, CellContext, Study, register
from blocklab.nn.models.operations import build_model, model_config
from blocklab.tasks.operations import operations
from blocklab.train import TrainConfig

from . import claims
from . import figures as report
from .captions import CAPTIONS
from .generalize import (
    QUICK,
    GeneralizationConfig,
    generalization_cells,
    generalization_figures,
    generalization_measurements,
    is_generalization,
    run_generalization_cell,
)
from .model import train_model
from .record import Recorder, RecordPlan
from .tables import tables as page_tables
from .viewer import viewers

SPLITS = ("seed", "disjoint")
ABLATIONS = {"no-block2": {"n_layers": 1}, "no-attention": {"mixer": "mean"}, "no-ffn": {"ffn": False},
             "no-residual": {"residual": False}, "no-layernorm": {"norm": "none"}, "no-pe": {"pos_encoding": "none"},
             "no-embed-scale": {"scale_embeddings": False}}
OPTIMIZERS = {"adam": {"optimizer": "adam"}, "sgd": {"optimizer": "sgd", "momentum": 0.0},
              "sgd-momentum": {"optimizer": "sgd", "momentum": 0.9}}
SCHEDULES = ("constant", "warmup", "cosine", "step")
PARTS = ("baseline", "headline", "sweeps", "generalization")


@dataclass
class DynamicsConfig(GeneralizationConfig):
    n_train: PositiveInt = 10000
    n_val: PositiveInt = 2000
    n_test: PositiveInt = 2000
    epochs: PositiveInt = 50  # the seed's recipe, baseline cells
    # the seed's recipe (baseline cells; each sweep changes one setting): steps come from the epochs
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optimizer="adam", lr=1e-3, batch_size=32,
                                                                     eval_every=None, log_every=None))
    snapshot_epochs: tuple[NonNegativeInt, ...] = (0, 1, 10, 30, 50)  # attention, FFN and cosine snapshots
    splits: NonEmpty[tuple[Literal[SPLITS], ...]] = SPLITS
    parts: NonEmpty[tuple[Literal[PARTS], ...]] = PARTS  # which groups of cells to run
    # The headline recipe: the seed's architecture trained as fast as we found (training choices only).
    headline_replicas: NonNegativeInt = 2
    headline_batch: PositiveInt = 32
    headline_lr: PositiveFloat = 1e-3
    headline_epochs: PositiveInt = 4
    headline_schedule: Literal[SCHEDULES] = "cosine"  # with one epoch of linear warmup; 4 epochs at batch 32, lr 1e-3
    headline_n_train: PositiveInt | None = None  # training rows of the headline cells (None: n_train)
    # Sweeps: one factor of the seed's recipe changed; budget `sweep_epochs` epochs of n_train rows.
    sweep_epochs: PositiveInt = 10
    sizes: tuple[PositiveInt, ...] = (1000, 5000, 50000)
    size_disjoint: tuple[PositiveInt, ...] = (50000,)
    optimizers: tuple[Literal[tuple(OPTIMIZERS)], ...] = ("sgd", "sgd-momentum")
    lrs: tuple[PositiveFloat, ...] = (0.1, 1e-6)
    schedules: tuple[Literal[SCHEDULES], ...] = ("warmup", "cosine", "step")
    batch_sizes: tuple[PositiveInt, ...] = (1, 1000)
    batch1_updates: PositiveInt = 10000
    ablations: tuple[Literal[tuple(ABLATIONS)], ...] = tuple(ABLATIONS)


def _cell(name: str, split: str = "seed", n_train: int | None = None, epochs: int | None = None,
          batch: int | None = None,
          train: dict | None = None, model: dict | None = None, record: str = "light", **extra) -> Cell:
    return Cell(name, {"split": split, "n_train": n_train, "epochs": epochs, "batch_size": batch,
                       "train": train or {}, "model": model or {}, "record": record, **extra})


def dynamics_cells(cfg: DynamicsConfig) -> list[Cell]:
    cells = []
    if "baseline" in cfg.parts:
        cells += [_cell(f"baseline-{s}", s, epochs=cfg.epochs, record="full") for s in cfg.splits]
    if "headline" in cfg.parts:
        cells += _headline_cells(cfg)
    if "sweeps" in cfg.parts:
        cells += _sweep_cells(cfg)
    if "generalization" in cfg.parts:
        cells += generalization_cells(cfg)
    return cells


def _headline_cells(cfg: DynamicsConfig) -> list[Cell]:
    schedule = {"schedule": cfg.headline_schedule, "lr": cfg.headline_lr,
                "warmup_epochs": int(cfg.headline_schedule in ("warmup", "cosine"))}
    return [_cell(f"headline-{s}-r{j}", s, n_train=cfg.headline_n_train, epochs=cfg.headline_epochs,
                  batch=cfg.headline_batch, train=schedule, record="timed", seed_offset=1000 * j)
            for s in cfg.splits for j in range(cfg.headline_replicas)]


def _sweep_cells(cfg: DynamicsConfig) -> list[Cell]:
    e = cfg.sweep_epochs
    cells = [_cell(f"size-{n}", n_train=n, epochs=e, same_updates=True) for n in cfg.sizes]
    cells += [_cell(f"size-{n}-disjoint", "disjoint", n_train=n, epochs=e, same_updates=True)
              for n in cfg.size_disjoint]
    cells += [_cell(f"optimizer-{o}", epochs=e, train=OPTIMIZERS[o]) for o in cfg.optimizers]
    cells += [_cell(f"lr-{lr:g}", epochs=e, train={"lr": lr}) for lr in cfg.lrs]
    cells += [_cell(f"schedule-{s}", epochs=e, train={"schedule": s, "warmup_epochs": int(s == "warmup")})
              for s in cfg.schedules]
    cells += [_cell(f"batch-{b}", epochs=e, batch=b) for b in cfg.batch_sizes]
    cells += [_cell(f"ablate-{a}", epochs=e, model=ABLATIONS[a]) for a in cfg.ablations]
    return cells


def train_config(cfg: DynamicsConfig, p: dict, n_train: int, seed: int, device: str) -> tuple[TrainConfig, int]:
    """The cell's TrainConfig and its epoch length in updates."""
    batch = p["batch_size"] or cfg.train.batch_size
    epoch_steps = max(1, n_train // batch)
    steps = p["epochs"] * epoch_steps
    if p.get("same_updates"):  # the size sweep: the updates of `epochs` epochs of the 10k set
        steps = p["epochs"] * max(1, cfg.n_train // batch)
    if batch == 1:
        steps = min(steps, cfg.batch1_updates)
    kw = dict(p["train"])  # the cell's change to the seed's recipe (cfg.train)
    if "warmup_epochs" in kw:
        kw["warmup_steps"] = kw.pop("warmup_epochs") * epoch_steps
    if kw.get("schedule", cfg.train.schedule) == "step":
        kw["step_size"] = max(1, math.ceil(steps / 3))
    return cfg.train.replace(steps=steps, batch_size=batch, seed=seed, device=device, **kw), epoch_steps


def run_dynamics_cell(cell: Cell, seed: int, ctx: CellContext) -> dict:
    cfg, p = ctx.cfg, cell.params
    seed = seed + p.get("seed_offset", 0)
    n_train = p["n_train"] or cfg.n_train
    task = operations(n_train, cfg.n_val, cfg.n_test, seed=seed, split=p["split"])
    torch.manual_seed(seed)
    model = build_model(model_config(**p["model"]))
    train_cfg, epoch_steps = train_config(cfg, p, n_train, seed, ctx.device)
    n_epochs = train_cfg.steps / epoch_steps
    snapshots = cfg.snapshot_epochs if cell.name == "baseline-seed" else ()  # the figures draw the seed split
    plan = RecordPlan(epoch_steps, full=p["record"] == "full", snapshot_epochs=snapshots,
                      checks_per_epoch=4 if p["record"] == "timed" else max(1, math.ceil(10 / n_epochs)))
    recorder = Recorder(task, plan)
    recorder.start(model)
    load = os.getloadavg()[0]
    result = train_model(task, model, train_cfg, ctx, callbacks=[recorder], splits=("train",), resume=False)
    model.save(ctx.model_dir)  # for `blocklab predict`
    curves = recorder.curves
    last = {k: curves[k][-1] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")}
    return {**last, "test_acc_op": dict(zip(("First", "Second", "Last", "Max", "Min"), curves["test_acc_op"][-1])),
            "epochs": n_epochs, "steps": result.steps_done, "n_params": sum(p.numel() for p in model.parameters()),
            "batch_size": train_cfg.batch_size,
            "cpu_s": recorder.cpu, "wall_s": recorder.wall, "load_avg": [load, os.getloadavg()[0]],
            "time_to_95": recorder.time_to(95.0), "time_to_99": recorder.time_to(99.0),
            "diverged": result.diverged, "mistakes": recorder.as_dict().get("mistakes", []),
            "record": recorder.as_dict(), "train_config": train_cfg.to_dict()}


@register
class TrainingDynamics(Study):
    name = "training-dynamics"
    description = "source document 001: epoch-by-epoch training of a 2-block Transformer on First/Second/Last/Max/Min"
    claims = tuple(sorted((*claims.CLAIMS, "C001-14")))
    claim_figures = {
        "C001-01": ("td_loss_accuracy.png",), "C001-02": ("td_loss_accuracy.png",),
        "C001-03": ("td_loss_accuracy.png",), "C001-04": ("td_per_op.png",), "C001-05": ("td_confusion.png",),
        "C001-06": ("td_attention_epoch*.png",),  # the epochs snapshotted depend on the config
        "C001-07": ("td_embeddings.png",), "C001-08": ("td_ffn_specialization.png",),
        "C001-09": ("td_gradients.png", "td_parameters.png"), "C001-10": ("td_loss_accuracy.png", "td_splits.png"),
        "C001-11": ("td_sweep_size.png",), "C001-12": ("td_ablations.png",), "C001-13": ("td_sweep_optimizer.png",),
        "C001-14": ("training_dynamics_gen_unseen_inputs.png",), "C001-15": ("td_headline.png",)}
    figure_captions = CAPTIONS
    Config = DynamicsConfig
    # --quick: one setting per sweep and a few epochs, only to show that every piece runs; the headline cells
    # keep the full recipe (10000 rows, 4 epochs, ~14 CPU s) so that the model they save answers right
    quick = {"n_train": 1000, "n_val": 500, "n_test": 500, "epochs": 4, "snapshot_epochs": [0, 1, 4],
             "headline_replicas": 1, "headline_n_train": 10000, "sweep_epochs": 2, "sizes": [500],
             "size_disjoint": [500],
             "optimizers": ["sgd"], "lrs": [0.1], "schedules": ["cosine"], "batch_sizes": [1, 250],
             "batch1_updates": 200, "ablations": ["no-attention", "no-residual", "no-embed-scale"], **QUICK}

    def cells(self, cfg: DynamicsConfig) -> list[Cell]:
        return dynamics_cells(cfg)

    def run_cell(self, cell: Cell, seed: int, ctx: CellContext) -> dict:
        if is_generalization(cell):
            return run_generalization_cell(cell, seed, ctx)
        return run_dynamics_cell(cell, seed, ctx)

    def figures(self, results: dict, fig_dir) -> list[str]:
        return report.figures(results, fig_dir) + generalization_figures(results, fig_dir)

    def measure(self, results: dict) -> list:
        return claims.measure(results) + generalization_measurements(results)

    def tables(self, results: dict) -> list:
        return page_tables(results)

    def viewers(self, results: dict) -> list:
        return viewers(results)
