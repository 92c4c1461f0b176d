"""Recipes: what a run of the speedrun trains (a model's architecture choices and a TrainConfig),
the changes that lead from nanoGPT's recipe to blocklab's best, and the best recipe with one left out.

A change is a set of Recipe fields (dotted, as --set names them) that move together. Every field
where the best recipe differs from the baseline must belong to a change, so that the best recipe
minus every change is the baseline again; `steps` is the horizon, not a change, and the fields the
study sets for every run (seed, device, evaluation and logging cadence) are not compared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config
from blocklab.nn.config import ACTIVATIONS, NORMS, POS_ENCODINGS
from blocklab.studies.common.char_text import nanogpt_cpu_train
from blocklab.train import TrainConfig


@dataclass
class ModelRecipe(Config):
    """The architecture choices of a recipe (GPTConfig fields); the sizes are the study's, the same for all."""

    pos_encoding: Literal[POS_ENCODINGS] = "learned"
    norm: Literal[NORMS] = "layer"
    activation: Literal[ACTIVATIONS] = "gelu"
    qk_norm: bool = False
    zero_init_branch_output: bool = False
    tie_weights: bool = True


@dataclass
class Recipe(Config):
    """One way to train the model: its architecture choices and its trainer settings (nanoGPT's by default)."""

    model: ModelRecipe = field(default_factory=ModelRecipe)
    train: TrainConfig = field(default_factory=nanogpt_cpu_train)

    @property
    def sequences(self) -> int:
        """Training windows the recipe reads: steps x batch_size."""
        return self.train.steps * self.train.batch_size


@dataclass(frozen=True)
class Change:
    name: str  # folder-safe: the leave-one-out cell is f"without-{name}"
    fields: tuple[str, ...]  # the Recipe fields it sets, dotted
    what: str  # for the ablation table


CHANGES = (
    Change("muon", ("train.optimizer", "train.muon_lr", "train.muon_momentum"),
           "Muon on the blocks' matrices (AdamW keeps the embedding and the gains)"),
    Change("lr", ("train.lr",), "the larger AdamW learning rate"),
    Change("batch", ("train.batch_size",), "the larger batch (left out: the same windows in more steps)"),
    Change("wsd", ("train.schedule", "train.warmup_steps", "train.decay_fraction"),
           "the warmup-stable-decay schedule (the baseline's: cosine)"),
    Change("rope", ("model.pos_encoding",), "RoPE (the baseline: a learned position table)"),
    Change("rms-norm", ("model.norm",), "RMSNorm (the baseline: LayerNorm)"),
    Change("relu-squared", ("model.activation",), "ReLU² (the baseline: GELU)"),
    Change("qk-norm", ("model.qk_norm",), "QK-norm"),
    Change("zero-init", ("model.zero_init_branch_output",), "zero-initialised output projections"),
    Change("untied-head", ("model.tie_weights",), "an output head of its own (the baseline's is the embedding)"),
)
BY_NAME = {c.name: c for c in CHANGES}
HORIZON = "train.steps"
SET_PER_RUN = ("train.seed", "train.device", "train.eval_every", "train.log_every", "train.checkpoint_every")


def flat(recipe: Recipe) -> dict:
    """{dotted field: value} of a recipe."""
    return {f"{part}.{k}": v for part in ("model", "train") for k, v in getattr(recipe, part).to_dict().items()}


def differing(best: Recipe, baseline: Recipe) -> list[str]:
    """Dotted fields where the two recipes differ, the horizon and the per-run fields aside."""
    a, b = flat(best), flat(baseline)
    return [k for k in a if a[k] != b[k] and k != HORIZON and k not in SET_PER_RUN]


def changes_made(best: Recipe, baseline: Recipe) -> list[Change]:
    """The changes the best recipe makes, in CHANGES order."""
    moved = set(differing(best, baseline))
    return [c for c in CHANGES if moved & set(c.fields)]


def uncovered(best: Recipe, baseline: Recipe) -> list[str]:
    """Fields the best recipe changes that no Change holds (a config error: its ablation would be incomplete)."""
    covered = {f for c in CHANGES for f in c.fields}
    return [k for k in differing(best, baseline) if k not in covered]


def without(best: Recipe, baseline: Recipe, change: Change) -> Recipe:
    """The best recipe with `change`'s fields set back to the baseline's. Without the larger batch the
    recipe reads the same windows in proportionally more steps (and warm-up steps), so that leaving
    it out changes how the data is batched, not how much of it there is."""
    base = flat(baseline)
    parts = {part: {f.split(".", 1)[1]: base[f] for f in change.fields if f.startswith(f"{part}.")}
             for part in ("model", "train")}
    train = best.train.replace(**parts["train"])
    if change.name == "batch":
        ratio = best.train.batch_size / baseline.train.batch_size
        train = train.replace(steps=round(train.steps * ratio), warmup_steps=round(train.warmup_steps * ratio))
    return Recipe(model=best.model.replace(**parts["model"]), train=train)
