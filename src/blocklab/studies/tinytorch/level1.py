"""Source document 004, Level 1: a 4,624-parameter GPT memorizes twelve patterns, trained by the numpy engine.

Setup, as the seed's Level 1 (TinyTorch): the twelve patterns of tasks/patterns.py, vocabulary
37, d_model 16, 1 layer, 2 heads, context 8; one random pattern per step, Adam at lr 1e-3.
The seed clips each gradient element to ±1; the engine clips the norm, and with Adam the
scale of the gradient hardly matters, so no clipping is used. The patterns are scored every
`eval_every` steps with the seed's test and with its determined-only variant (patterns.py).

Parameters (blocklab.nn's GPT, learned positions, untied output without bias, d_ff = 4 x 16):
token table 37x16 = 592, positions 8x16 = 128, attention 16x48+48 + 16x16+16 = 1,088,
two block LayerNorms 64, FFN 16x64+64 + 64x16+16 = 2,128, final LayerNorm 32,
output 16x37 = 592: 4,624, the seed's count.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from blocklab.autograd import GPT, no_grad
from blocklab.autograd.bench import BENCH_CONFIGS, bench_engine
from blocklab.autograd.checkpoint import save_checkpoint
from blocklab.autograd.train import Examples, check_train_config, fit
from blocklab.config import Config, PositiveInt
from blocklab.errors import ConfigError
from blocklab.lab.registry import Cell, Study, register
from blocklab.report import plots
from blocklab.report.gallery import Caption
from blocklab.report.results import config_value, per_seed, seed_values
from blocklab.report.verdicts import Measurement, around, between
from blocklab.runtime import set_blas_threads
from blocklab.tasks import patterns
from blocklab.train import TrainConfig

MODEL = BENCH_CONFIGS["level1"][0]  # the seed's Level 1 GPT, shared with `blocklab bench engine`
SEED_STEPS = 200  # the seed's run
SNAPSHOTS = (200, 500, 1000)  # steps whose per-pattern results are kept (and the last)
HIGH = 0.9  # "high accuracy": the seed's Level 1 pass line, 90% of the patterns


@dataclass
class Level1Config(Config):
    # batch 1: one random pattern per step, at the source document's Adam learning rate; eval_every must divide 200,
    # the source document's step count
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optimizer="adam", lr=1e-3, steps=3000, batch_size=1,
                                                                     eval_every=50, log_every=1,
                                                                     checkpoint_seconds=None))
    bench_repeats: PositiveInt = 30

    def validate(self) -> None:
        super().validate()
        check_train_config(self.train, study=True)  # the numpy engine's trainer: no checkpoints, devices or autocast
        if self.train.eval_every is None or SEED_STEPS % self.train.eval_every:
            raise ConfigError(f"Level1Config.train.eval_every={self.train.eval_every!r} is not valid; it must divide "
                              f"{SEED_STEPS}, the step the source document reports")


def first_step(curve: list[dict], key: str, at_least: float) -> int | None:
    return next((r["step"] for r in curve if r[key] >= at_least), None)


@register
class TinyTorchLevel1(Study):
    name = "tinytorch-level1"
    description = "004: Level 1 memorization (4,624 parameters) on the numpy engine: loss, patterns right, speed"
    claims = ("C004-01", "C004-03", "C004-05")
    claim_figures = {"C004-01": ("004_level1_training.png", "004_level1_patterns.png"),
                     "C004-03": ("004_level1_speed.png",), "C004-05": ("004_level1_training.png",)}
    figure_captions = {
        "004_level1_training.png": "numpy engine, against step: training loss (10-step mean; dotted: chance, ln 37) "
                                   "and the patterns of the source document's test it gets right, all and the "
                                   "determined predictions only (red triangles: the source document's values)",
        "004_level1_patterns.png": Caption("For each of the 12 patterns of the source document's test, the share of "
                                           "seeds that get it right at each snapshot step", bands=False),
        "004_level1_speed.png": "Median ms per training step: the numpy engine while training (batch 1) and in the "
                                "benchmark (batch 16), PyTorch, and PyTorch with fused LayerNorm (dashed red: the "
                                "source document's TinyTorch)"}
    Config = Level1Config
    quick = {"train.steps": 1000, "bench_repeats": 10}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        return [Cell("level1", {})]

    def run_cell(self, cell, seed, ctx):
        set_blas_threads(1)  # as the bench: a second BLAS thread only waits at these sizes, very long on a busy CPU
        cfg = ctx.cfg
        x, y = patterns.level1_data()
        model = GPT(MODEL, seed=seed)
        curve, scored, clock = [], {}, {"start": time.perf_counter()}

        def score(step: int, m: GPT, record: dict | None = None) -> None:
            if step == SEED_STEPS:
                clock["at_200"] = time.perf_counter() - clock["start"]
            with no_grad():
                scored[step] = s = patterns.score(m(x).data.argmax(-1))
            curve.append({"step": step, "right": s["n_right"], "right_determined": s["n_right_determined"]})
            ctx.progress(step, cfg.train.steps)

        score(0, model)
        clock["start"] = time.perf_counter()
        train = cfg.train.replace(seed=seed)
        history = fit(model, Examples(x, y), train, callbacks=[score])
        save_checkpoint(model, None, ctx.model_dir)  # token ids only (tasks/patterns.py): no tokenizer
        if history.diverged_at is not None and history.diverged_at - 1 not in scored:
            score(history.diverged_at - 1, model)  # the weights divergence left: its bad update is not applied
        last = curve[-1]["step"]
        snapshots = {str(k): s for k, s in scored.items() if k in SNAPSHOTS or k == last}
        losses = np.array([r["loss"] for r in history.steps])
        n = len(patterns.PATTERNS)
        return {
            "diverged": history.diverged_at is not None, "diverged_at": history.diverged_at,
            "parameters": model.num_parameters(),
            "loss_initial": losses[:10].mean(),  # the seed's "initial": mean of the first 10 steps
            # its "final": mean of steps 101-200 (None: the run stopped before step 200)
            "loss_at_200": losses[SEED_STEPS - 100 : SEED_STEPS].mean() if len(losses) >= SEED_STEPS else None,
            "loss_final": losses[-100:].mean(),
            "loss_curve": losses[: len(losses) // 10 * 10].reshape(-1, 10).mean(axis=1).tolist(),  # 10-step means
            "seconds_200_steps": clock.get("at_200"),
            "ms_per_step": 1e3 * history.seconds / (history.diverged_at or cfg.train.steps),
            "right_at_200": snapshots.get(str(SEED_STEPS), {}).get("n_right"),
            "right_final": curve[-1]["right"],
            "right_determined_final": curve[-1]["right_determined"],
            "steps_to_high_determined": first_step(curve, "right_determined", HIGH * n),
            "steps_to_ceiling": first_step(curve, "right", patterns.ceiling()),
            "accuracy_curve": curve,
            "snapshots": {step: {k: s[k] for k in ("right", "right_determined", "mistakes")}
                          for step, s in snapshots.items()},
            "mistakes": scored[last]["mistakes"],
            "bench": bench_engine("level1", repeats=cfg.bench_repeats, seed=seed),
        }

    def figures(self, results, fig_dir):
        runs = list(per_seed(results, "level1").values())
        if not runs:
            return []
        return [_training_figure(runs, fig_dir), _patterns_figure(runs, fig_dir), _speed_figure(runs, fig_dir)]

    def measure(self, results):
        def v(metric):
            return seed_values(results, "level1", metric)

        bench = list(per_seed(results, "level1", "bench").values())
        steps = config_value(results, "train.steps")
        return [
            Measurement("C004-01", "3.81", v("loss_initial"), "nats", around(3.81, 0.1), part="initial loss",
                        note="mean training loss of steps 1-10, as the source document computes it; "
                             "ln 37 = 3.61 is chance"),
            Measurement("C004-01", "1.55", v("loss_at_200"), "nats", around(1.55, 0.15), part="loss after 200 steps",
                        note="mean training loss of steps 101-200 (the source document's 'final loss' of its "
                             "200-step run)"),
            Measurement("C004-01", "3 of 12", v("right_at_200"), "patterns", around(3, 1),
                        part="patterns right after 200 steps",
                        note="the source document's test: all four shifted predictions"),
            Measurement("C004-01", "3.4 s", v("seconds_200_steps"), "s", around(3.4, 1.0), part="time for 200 steps",
                        note="wall time of the numpy engine's first 200 steps (batch 1), on a shared CPU"),
            Measurement("C004-03", "0.017 s/step", v("ms_per_step"), "ms", around(17, 5),
                        part="Level 1 training step time",
                        note=f"numpy engine, batch 1, mean over {steps} steps including the pattern checks"),
            Measurement("C004-03", "140-240x", [b["step_ratio_vs_torch"] for b in bench], "x", between(140, 240),
                        part="Level 1 step time, numpy engine / PyTorch",
                        note="bench_engine('level1'): batch 16, one thread, blocklab.nn's GPT on torch CPU, "
                             "medians timed alternately"),
            Measurement("C004-05", "500-1000 steps", v("steps_to_high_determined"), "steps", between(500, 1000),
                        part="steps to 90% of patterns (determined predictions)",
                        note=f"first check (every {config_value(results, 'train.eval_every')} steps) "
                             "with at least 11 of 12 patterns right, scoring only the predictions "
                             "the prefix determines; NaN: never"),
            Measurement("C004-05", "500-1000 steps", v("steps_to_ceiling"), "steps", between(500, 1000),
                        part="steps to the ceiling of the source document's test (10 of 12)",
                        note="the source document's own test cannot pass 10 of 12: three patterns start with 'A'"),
        ]


def _training_figure(runs: list[dict], fig_dir) -> str:
    fig, (loss_ax, acc_ax) = plots.figure(1, 2)
    curves = [m["loss_curve"] for m in runs]
    plots.line_with_band(loss_ax, 10 * np.arange(1, max(map(len, curves)) + 1), curves, label="numpy engine (3 seeds)",
                         scale=plots.LOSS)
    loss_ax.plot([1, SEED_STEPS], [3.81, 1.55], "rv", label="source document: 3.81 -> 1.55")
    loss_ax.axhline(np.log(patterns.VOCAB_SIZE), color="gray", linestyle=":", label="chance, ln 37")
    loss_ax.set(xscale="log", xlabel="step", ylabel="training loss (nats, 10-step mean)",
                title="Level 1: training loss")
    loss_ax.legend(fontsize=8)
    steps = [r["step"] for r in runs[0]["accuracy_curve"]]
    for key, label in (("right", "the source document's test"), ("right_determined", "determined predictions only")):
        plots.line_with_band(acc_ax, steps, [[r[key] for r in m["accuracy_curve"]] for m in runs], label=label,
                             scale=plots.NONNEGATIVE)  # a count of right answers
    acc_ax.axhline(patterns.ceiling(), color="gray", linestyle=":", label="ceiling of the source document's test (10)")
    acc_ax.plot([SEED_STEPS], [3], "rv", label="source document: 3 of 12 at 200 steps")
    acc_ax.set(xlabel="step", ylabel="patterns right (of 12)", ylim=(-0.3, 12.5),
               title="Level 1: patterns right over training")
    acc_ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "004_level1_training.png")


def _patterns_figure(runs: list[dict], fig_dir) -> str:
    """Failure modes: which patterns each snapshot gets right, as the fraction of seeds."""
    steps = sorted(runs[0]["snapshots"], key=int)
    matrix = [[np.mean([m["snapshots"][s]["right"][i] for m in runs if s in m["snapshots"]]) for s in steps]
              for i in range(len(patterns.PATTERNS))]
    fig, ax = plots.figure(width=6, height=5)
    rows = [f"{p[:4]} -> {p[1:]} ({k})" for p, k in zip(patterns.PATTERNS, patterns.KINDS)]
    plots.heatmap(ax, matrix, rows, [f"step {s}" for s in steps], fmt="{:.2f}")
    ax.set_title("Level 1: share of seeds right, per pattern\n"
                 "(the source document's test; three patterns start with 'A')")
    return plots.save(fig, fig_dir, "004_level1_patterns.png")


def _speed_figure(runs: list[dict], fig_dir) -> str:
    fig, ax = plots.figure()
    labels = ["numpy engine\n(train, batch 1)", "numpy engine\n(bench, batch 16)", "PyTorch\n(bench)",
              "PyTorch, fused LN\n(bench)"]
    values = [[m["ms_per_step"] for m in runs]] + [[m["bench"][f"{c}_step_ms"] for m in runs]
                                                    for c in ("numpy", "torch", "torch_fused")]
    plots.bars_with_ci(ax, labels, values, scale=plots.NONNEGATIVE)
    ax.axhline(17, color="red", linestyle="--", label="source document's TinyTorch: 17 ms/step")
    ax.set(ylabel="ms per training step (median; 95% CI over seeds)",
           title="Level 1: one training step (forward, backward, update)")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "004_level1_speed.png")
