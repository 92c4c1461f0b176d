"""How fast does blocklab's best training recipe reach the validation loss nanoGPT's CPU recipe ends at?

Cells:
- baseline: nanoGPT's CPU run of shakespeare_char exactly as the char-lm study runs it (same
  model, the same 90/10 character split of the same corpus, the same 480 validation windows;
  studies/common/char_text.py holds what the two share).
- best: blocklab's recipe at the same sizes (4 layers, 4 heads, width 128, context 64, so the
  parameter count within 5% of the baseline's; the config refuses a recipe outside that), with
  what made the GPT-2 speedruns fast and paid here: Muon on the blocks' matrices, RoPE, QK-norm,
  zero-initialised output projections, a warmup-stable-decay schedule, a larger AdamW learning
  rate and batch (config.best_recipe). recipes.CHANGES also holds RMSNorm, ReLU² and an untied
  head, tried and left out because they did not pay on seed 0.
- without-<change>: the best recipe with one change set back to the baseline's (leave-one-out).

Every run records validation loss against training CPU seconds (clock.py: process time of the
run's one thread, evaluations subtracted). The study's result is the CPU seconds each recipe's
mean curve over seeds takes to reach the baseline's mean final validation loss, interpolated
between evaluations, and its ratio to the baseline's own (goal: at most 0.5). All recipes run
in the same `blocklab run`, so they share the machine and its load. A run is not resumed from
a checkpoint: an interrupted pair trains again from the start, or its CPU seconds would be short.
"""
from __future__ import annotations

import os

from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import GPT
from blocklab.studies.common.char_text import corpus, train_windows, val_windows
from blocklab.studies.common.training import next_token
from blocklab.train import evaluate, fit, resolve_device, seed_everything

from .clock import CpuCurve
from .config import SpeedrunConfig
from .figures import speedrun_figures
from .recipes import Recipe
from .tables import speedrun_tables

EVAL_BATCH = 96  # windows per forward pass when evaluating: the mean loss is the same whatever it is


def run_recipe(recipe: Recipe, cfg: SpeedrunConfig, seed: int, device: str = "cpu", progress=None) -> dict:
    """Train one recipe for one seed on Shakespeare and return its CPU curve and final numbers."""
    tok, train_ids, val_ids, summary = corpus("shakespeare", cfg.data_dir)
    model_cfg = cfg.gpt_config(recipe, tok.vocab_size)
    seed_everything(seed)  # the initial weights: as the runner seeds a pair, so that a script calling this matches
    model = GPT(model_cfg).to(resolve_device(device))
    train = train_windows(train_ids, cfg.context, recipe.sequences, seed)
    val = val_windows(val_ids, cfg.context, cfg.val_windows)
    steps = recipe.train.steps
    train_cfg = recipe.train.replace(seed=seed, device=device, eval_every=None, log_every=None, checkpoint_every=None)
    curve = CpuCurve(lambda: evaluate(model, (val,), next_token, EVAL_BATCH, resolve_device(device))["loss"],
                     max(1, steps // cfg.evals), steps)
    result = fit(model, {"train": (train,)}, next_token, train_cfg, callbacks=[curve], progress=progress)
    last = curve.points[-1]
    return {"val_loss": None if result.diverged else last["val_loss"], "cpu_seconds": last["cpu_seconds"],
            "curve": curve.points, "parameters": sum(p.numel() for p in model.parameters()), "steps": steps,
            "batch_size": recipe.train.batch_size, "sequences": recipe.sequences, "diverged": result.diverged,
            "steps_done": result.steps_done, "notes": result.notes, "load_average": os.getloadavg()[0],
            "data": summary}


@register
class CharSpeedrun(Study):
    name = "char-speedrun"
    description = ("issue 21: nanoGPT's CPU recipe vs blocklab's best at the same size: CPU seconds to its "
                   "validation loss, and each change left out")
    question = ("nanoGPT's CPU recipe trains a 4-layer character GPT on Shakespeare to a validation loss of about "
                "1.89 in 2,000 iterations. With the changes that made the GPT-2 speedruns fast, at the same "
                "parameter count, how much of that recipe's CPU time does blocklab's best recipe need to reach the "
                "same loss? The goal is at most half. Leaving each change out in turn shows what each one buys.")
    Config = SpeedrunConfig
    quick = {"baseline.train.steps": 60, "baseline.train.warmup_steps": 10, "best.train.steps": 24,
             "best.train.warmup_steps": 3, "val_windows": 48, "evals": 4, "leave_one_out": False}
    figure_captions = {
        "char_speedrun_curves.png": "Validation loss against training CPU seconds (evaluations excluded), mean "
                                    "over seeds with a 95% band; the dashed line is the baseline's final loss, "
                                    "a dot where each recipe's mean curve reaches it",
        "char_speedrun_ablation.png": "CPU seconds to the baseline's final loss: the best recipe and the best "
                                      "recipe without each change (a missing bar: never reached it)",
    }

    def cells(self, cfg: SpeedrunConfig) -> list[Cell]:
        return [Cell(name, {"steps": r.train.steps, "batch_size": r.train.batch_size})
                for name, r in cfg.recipes().items()]

    def run_cell(self, cell, seed, ctx):
        return run_recipe(ctx.cfg.recipes()[cell.name], ctx.cfg, seed, ctx.device, ctx.progress)

    def figures(self, results, fig_dir):
        return speedrun_figures(results, fig_dir)

    def tables(self, results):
        return speedrun_tables(results)
