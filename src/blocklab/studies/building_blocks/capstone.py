"""50 capstone: the Transformer from blocklab blocks, and what each block is worth (claim C000-12).

The model is the seed's pre-norm block, x -> LN -> MHA -> + -> LN -> FFN -> +, stacked four
deep in an EncoderClassifier read out by a CLS token. The task is tasks.lookup: x_1..x_8 then
a token P_k naming a position; the answer is x_k. It needs attention (the answer lives at a
position chosen by the input) and positions (which token is the k-th). Chance is 10%.

Token embeddings are multiplied by sqrt(d_model), as in Vaswani et al.: with blocklab's 0.02
init the sinusoidal table is otherwise ~35x larger than the token vectors (study 49, C003-04),
and on first==last (study 51) the unscaled full model sat at chance for 4000 steps.

Each ablation is one config value (COMPONENTS): residual=False, norm='none', mixer='mean'
(attention replaced by a plain average over positions), pos_encoding='none'. The seed's
capstone task is not named and its numbers (no norm "~50%", no PE "~55%") read like a
binary task; they are tested as the accuracies they state, on this 10-class task.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from matplotlib.patches import FancyBboxPatch

from blocklab.config import Config, PositiveInt
from blocklab.lab.registry import Cell, Study, Training, register, train_and_conclude
from blocklab.nn import ClassifierConfig, EncoderClassifier, parameter_summary
from blocklab.report import plots
from blocklab.report.gallery import Caption
from blocklab.report.results import finished_runs, seed_values
from blocklab.report.verdicts import Measurement, around, at_least
from blocklab.studies.common.components import drops, without
from blocklab.studies.common.training import accuracy_and_mistakes, classify
from blocklab.tasks import lookup
from blocklab.train import TrainConfig


@dataclass
class CapstoneConfig(Config):
    length: PositiveInt = 8
    n_symbols: PositiveInt = 10
    n_train: PositiveInt = 10000
    n_val: PositiveInt = 500
    n_test: PositiveInt = 1000
    d_model: PositiveInt = 32
    n_heads: PositiveInt = 4
    d_ff: PositiveInt = 64
    n_layers: PositiveInt = 4
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, batch_size=64, lr=3e-3, eval_every=150,
                                                                     log_every=None))


ABLATIONS = {"full": (), "no-skip": ("skip",), "no-norm": ("norm",), "no-attention": ("attention",), "no-PE": ("PE",)}
SEED_TABLE = {"full": "~85%+", "no-skip": "~60%", "no-norm": "NaN or ~50%", "no-attention": "~70%", "no-PE": "~55%"}


@register
class Capstone(Study):
    name = "capstone"
    description = "50: a 4-layer pre-norm Transformer from blocks on lookup, with one component removed at a time"
    claims = ("C000-12",)
    claim_figures = {"C000-12": ("50_transformer_ablation.png", "50_transformer_training.png")}
    group = "building-blocks"
    figure_captions = {
        "50_transformer_ablation.png": "Lookup task: test accuracy of the full 4-layer model and of each ablation "
                                       "(dotted: chance; red: the source document's values)",
        "50_transformer_training.png": "Validation accuracy per step of the full model and of each ablation "
                                       "(dotted: chance)",
        "50_transformer_architecture.png": Caption("The model's pre-norm block diagram with each part's parameter "
                                                   "count, and the total parameter count of each ablation",
                                                   seeds="none")}
    Config = CapstoneConfig
    quick = {"train.steps": 60, "train.eval_every": 30, "n_train": 1000, "n_test": 200, "n_val": 100}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        return [Cell(name, {"removed": list(removed)}) for name, removed in ABLATIONS.items()]

    def stacks(self, cell, cfg):
        return True  # 0.71-0.80x the CPU per model at 3 seeds: docs/training.md, `blocklab bench stacked`

    def run_cell(self, cell, seed, ctx):
        return train_and_conclude(self, cell, seed, ctx)

    def prepare(self, cell, seed, ctx):
        cfg = ctx.cfg
        task = lookup(cfg.n_train, cfg.n_val, cfg.n_test, seed=seed, length=cfg.length, n_symbols=cfg.n_symbols)
        full = ClassifierConfig(vocab_size=task.vocab_size, n_classes=task.n_classes, d_model=cfg.d_model,
                                n_heads=cfg.n_heads, d_ff=cfg.d_ff, n_layers=cfg.n_layers, pooling="cls",
                                max_len=cfg.length + 2, scale_embeddings=True)
        model = EncoderClassifier(without(full, tuple(cell.params["removed"])))
        data = {k: task.splits[k][:2] for k in ("train", "val")}
        return Training(model, data, classify, cfg.train.replace(seed=seed, device=ctx.device), keep=task)

    def conclude(self, cell, training, result, ctx):
        model = training.model
        model.save(ctx.model_dir)
        test = accuracy_and_mistakes(model, training.keep)
        return {"test_acc": test["acc"], "mistakes": test["mistakes"], "params": parameter_summary(model),
                "curve": {"step": [h["step"] for h in result.history],
                          "val_acc": [100 * h["val_acc"] for h in result.history]},
                **result.to_dict()}

    def figures(self, results, fig_dir):
        names = [c["name"] for c in results["cells"]]
        fig, ax = plots.figure(width=6.5)
        plots.bars_with_ci(ax, names, [seed_values(results, n, "test_acc") for n in names], scale=plots.ACCURACY)
        ax.axhline(100 / results["config"]["n_symbols"], color="grey", linestyle=":", label="chance")
        ax.set(ylabel="test accuracy (%)", ylim=(0, 105),
               title="Capstone ablation on lookup (4 layers, mean and 95% CI over seeds)")
        for i, n in enumerate(names):
            ax.annotate(SEED_TABLE[n], (i, 101), ha="center", fontsize=7, color="C3")
        ax.plot([], [], "s", color="C3", label="red: the source document's figure")  # a legend entry for the notes
        ax.legend(loc="center right")
        out = [plots.save(fig, fig_dir, "50_transformer_ablation.png")]

        fig, ax = plots.figure(width=6.5)
        for n in names:
            runs = finished_runs(results, n)
            if runs:
                plots.line_with_band(ax, runs[0]["metrics"]["curve"]["step"],
                                     [r["metrics"]["curve"]["val_acc"] for r in runs], label=n,
                                     scale=plots.ACCURACY)
        ax.axhline(100 / results["config"]["n_symbols"], color="grey", linestyle=":", label="chance")
        ax.set(xlabel="step", ylabel="validation accuracy (%)", ylim=(0, 105),
               title="Training curves of the ablations (mean, 95% CI band)")
        ax.legend()
        out.append(plots.save(fig, fig_dir, "50_transformer_training.png"))
        out.append(plots.save(architecture(results), fig_dir, "50_transformer_architecture.png"))
        return out

    def measure(self, results):
        note = "lookup over 10 symbols (chance 10%); '~X%' is tested as within ±5 points of X"
        acc = {n: seed_values(results, n, "test_acc") for n in ABLATIONS}
        failed = [100.0 if r["metrics"].get("diverged") or abs(r["metrics"]["test_acc"] - 50) <= 5 else 0.0
                  for r in finished_runs(results, "no-norm")]
        drop = {c: drops(results, "full", c) for c in ABLATIONS if c != "full"}
        seeds = sorted(set.intersection(*(set(d) for d in drop.values())))
        margin = [drop["no-skip"][s] - max(drop[c][s] for c in drop if c != "no-skip") for s in seeds]
        return [
            Measurement("C000-12", "~85%+", acc["full"], "%", at_least(85), part="full", note=note),
            Measurement("C000-12", "~60%", acc["no-skip"], "%", around(60, 5), part="no skip", note=note),
            Measurement("C000-12", "NaN or ~50%", failed, "%", at_least(50), part="no norm",
                        note="per seed 100 if the run diverged or ended within ±5 points of 50%, else 0"),
            Measurement("C000-12", "~70%", acc["no-attention"], "%", around(70, 5), part="no attention", note=note),
            Measurement("C000-12", "~55%", acc["no-PE"], "%", around(55, 5), part="no PE", note=note),
            Measurement("C000-12", "skip matters most", margin, "points",
                        at_least(0), part="skip matters most",
                        note="per seed: drop without skip minus the largest drop without norm, attention or PE"),
        ]


def architecture(results: dict):
    """The seed's block diagram, annotated with parameter counts measured on the full model."""
    runs = finished_runs(results, "full")
    params = runs[0]["metrics"]["params"] if runs else {}
    n_layers = results["config"]["n_layers"]
    attention, ffn = (params.get(k, 0) // n_layers for k in ("attention", "feed-forward"))  # blocks are alike
    boxes = [  # (label, parameters, colour), bottom to top
        ("input: CLS, x_1..x_8, P_k", None, "#dddddd"),
        ("token embedding x sqrt(d) + CLS vector\n+ sinusoidal PE (a fixed table)", params.get("embeddings", 0),
         "#c6dbef"),
        ("LayerNorm", None, "#fdd0a2"), ("multi-head attention (4 heads)", attention, "#9ecae1"),
        ("+ skip", None, "#ffffff"), ("LayerNorm", None, "#fdd0a2"),
        ("feed-forward (GELU)", ffn, "#a1d99b"), ("+ skip", None, "#ffffff"),
        ("final LayerNorm -> CLS -> linear head", params.get("output head", 0), "#dadaeb"),
    ]
    fig, (ax, side) = plots.figure(1, 2, width=5.0, height=6.0)
    ax.set_axis_off()
    for i, (label, count, colour) in enumerate(boxes):
        y = i * 1.1
        ax.add_patch(FancyBboxPatch((0.05, y), 0.9, 0.75, boxstyle="round,pad=0.02", facecolor=colour, edgecolor="k"))
        text = label if count is None else f"{label}\n{count:,} parameters"
        ax.text(0.5, y + 0.37, text, ha="center", va="center", fontsize=8)
        if i:
            ax.annotate("", (0.5, y), (0.5, y - 0.35), arrowprops={"arrowstyle": "->"})
    ax.add_patch(FancyBboxPatch((0.0, 2.1), 1.0, 6.45, boxstyle="round,pad=0.02", fill=False, linestyle="--"))
    ax.text(1.07, 5.3, f"x {n_layers} blocks\n(norms: {params.get('norms', 0):,}\nin all)", fontsize=8, va="center")
    ax.set(xlim=(-0.05, 1.45), ylim=(-0.2, 9.9), title="Pre-norm Transformer from blocklab blocks")
    names = [c["name"] for c in results["cells"]]
    totals = [[r["metrics"]["params"]["total"] for r in finished_runs(results, n)][:1] or [math.nan] for n in names]
    side.barh(names, [t[0] for t in totals], color="C0", alpha=0.8)
    side.set(xlabel="parameters (measured)", title="Parameter count of each ablation")
    for i, t in enumerate(totals):
        side.text(t[0], i, f" {t[0]:,.0f}", va="center", fontsize=8)
    return fig
