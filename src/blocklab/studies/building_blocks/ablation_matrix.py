"""51 ablation matrix: all 16 combinations of skip, norm, attention and positions on first==last.

Task: tasks.first_equals_last, x_1..x_8 over 10 symbols -> 1 if x_1 == x_8 (balanced: chance 50%).
Without positions the model sees a bag of tokens, which says almost nothing about the two ends.
Model: EncoderClassifier read out by a CLS token, 2 pre-norm layers, d_model 32, 4 heads,
sinusoidal positions, token embeddings times sqrt(d_model) (as in the capstone, which says why);
a component is removed by the capstone's config change (studies.common.components.COMPONENTS).

Importance of a component: the accuracy lost when it alone is removed, paired by seed.
Interaction of a pair: drop(both) - drop(a) - drop(b); positive means the pair hurts more than
the sum of its parts (super-additive, claim C000-15). Accuracy cannot fall below chance, so a
component whose removal alone reaches chance leaves no room for super-additivity with it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from blocklab.config import Config, PositiveInt
from blocklab.lab.registry import Cell, Study, Training, register, train_and_conclude
from blocklab.nn import ClassifierConfig, EncoderClassifier
from blocklab.report import plots
from blocklab.report.results import seed_values
from blocklab.report.verdicts import Measurement, around, at_least
from blocklab.studies.common.components import COMPONENTS, drops, without
from blocklab.studies.common.training import accuracy_and_mistakes, classify
from blocklab.tasks import first_equals_last
from blocklab.train import TrainConfig

NAMES = tuple(COMPONENTS)  # skip, norm, attention, PE
SEED_ROWS = {(): ("full", 90), ("skip",): ("no skip", 70), ("norm",): ("no norm", 50),
             ("attention",): ("no attention", 75), ("PE",): ("no PE", 60), NAMES: ("none", 50)}
SEED_RANKING = ("norm", "PE", "skip", "attention")


def cell_name(removed: tuple[str, ...]) -> str:
    if not removed:
        return "full"
    return "none" if len(removed) == len(NAMES) else "no-" + "+".join(removed)


def code(removed: tuple[str, ...]) -> str:
    """'SNAP' with a dash for each removed component: a short label for 16 bars."""
    return "".join("-" if n in removed else n[0].upper() for n in NAMES)


@dataclass
class AblationConfig(Config):
    length: PositiveInt = 8
    n_symbols: PositiveInt = 10
    n_train: PositiveInt = 8000
    n_test: PositiveInt = 1000
    d_model: PositiveInt = 32
    n_heads: PositiveInt = 4
    d_ff: PositiveInt = 64
    n_layers: PositiveInt = 2
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1250, batch_size=64, lr=3e-3, eval_every=None,
                                                                     log_every=None))


@register
class AblationMatrix(Study):
    name = "ablation-matrix"
    description = "51: first==last with every on/off combination of skip, norm, attention and positions"
    claims = ("C000-13", "C000-14", "C000-15")
    claim_figures = {"C000-13": ("51_ablation_comparison.png", "51_ablation_matrix.png"),
                     "C000-14": ("51_ablation_comparison.png",), "C000-15": ("51_ablation_interactions.png",)}
    group = "building-blocks"
    figure_captions = {
        "51_ablation_comparison.png": "first==last: test accuracy of the source document's rows (red: its values; "
                                      "dotted: chance), and the accuracy lost when each component alone is removed",
        "51_ablation_matrix.png": "Test accuracy of all 16 combinations of removing skip, norm, attention and PE: "
                                  "as a grid of means, and sorted (S skip, N norm, A attention, P PE; - removed)",
        "51_ablation_interactions.png": "For each pair of components: the accuracy lost removing both minus the "
                                        "losses removing each alone (above 0: the pair hurts more than the sum)"}
    Config = AblationConfig
    quick = {"train.steps": 50, "n_train": 1000, "n_test": 200}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        subsets = [s for k in range(len(NAMES) + 1) for s in itertools.combinations(NAMES, k)]
        return [Cell(cell_name(s), {"removed": list(s)}) for s in subsets]

    def stacks(self, cell, cfg):
        return True  # 0.69-0.76x the CPU per model at 3 seeds: docs/training.md, `blocklab bench stacked`

    def run_cell(self, cell, seed, ctx):
        return train_and_conclude(self, cell, seed, ctx)

    def prepare(self, cell, seed, ctx):
        cfg = ctx.cfg
        task = first_equals_last(cfg.n_train, 0, cfg.n_test, seed=seed, length=cfg.length, n_symbols=cfg.n_symbols)
        full = ClassifierConfig(vocab_size=task.vocab_size, n_classes=2, d_model=cfg.d_model, n_heads=cfg.n_heads,
                                d_ff=cfg.d_ff, n_layers=cfg.n_layers, pooling="cls", max_len=cfg.length + 1,
                                scale_embeddings=True)
        model = EncoderClassifier(without(full, tuple(cell.params["removed"])))
        return Training(model, {"train": task.splits["train"][:2]}, classify,
                        cfg.train.replace(seed=seed, device=ctx.device), keep=task)

    def conclude(self, cell, training, result, ctx):
        training.model.save(ctx.model_dir)
        test = accuracy_and_mistakes(training.model, training.keep)
        return {"test_acc": test["acc"], "mistakes": test["mistakes"], "diverged": result.diverged,
                "train_loss": result.final.get("train_loss"), "steps_done": result.steps_done}

    def figures(self, results, fig_dir):
        subsets = [tuple(c["params"]["removed"]) for c in results["cells"]]
        acc = {s: seed_values(results, cell_name(s), "test_acc") for s in subsets}

        fig, axes = plots.figure(1, 2, width=5.5)
        rows = list(SEED_ROWS)
        plots.bars_with_ci(axes[0], [SEED_ROWS[r][0] for r in rows], [acc.get(r, []) for r in rows],
                           scale=plots.ACCURACY)
        axes[0].plot(range(len(rows)), [SEED_ROWS[r][1] for r in rows], "_", color="C3", markersize=22,
                     markeredgewidth=2, label="source document's value")
        axes[0].axhline(50, color="grey", linestyle=":", label="chance")
        axes[0].set(ylabel="test accuracy (%)", ylim=(0, 105), title="first==last: the source document's rows")
        axes[0].legend()
        plots.bars_with_ci(axes[1], list(SEED_RANKING), [list(importance(results, n).values()) for n in SEED_RANKING],
                           color="C1", scale=plots.ACCURACY.difference())
        axes[1].axhline(0, color="black", linewidth=0.8)
        axes[1].set(ylabel="accuracy drop when removed alone (points)",
                    title="Importance\n(source document: norm > PE > skip > attention)")
        out = [plots.save(fig, fig_dir, "51_ablation_comparison.png")]

        fig, axes = plots.figure(1, 2, width=6.0)
        pairs_of = [(), ("skip",), ("norm",), ("skip", "norm")]  # rows: what is removed of skip and norm
        cols_of = [(), ("attention",), ("PE",), ("attention", "PE")]
        matrix = [[np.nanmean(acc.get(r + c) or [np.nan]) for c in cols_of] for r in pairs_of]
        plots.heatmap(axes[0], matrix, [_label(r, "skip", "norm") for r in pairs_of],
                      [_label(c, "attention", "PE") for c in cols_of], fmt="{:.0f}")
        axes[0].set_title("Mean test accuracy (%) of all 16 combinations")
        order = sorted(subsets, key=lambda s: -np.nanmean(acc[s] or [np.nan]))
        plots.bars_with_ci(axes[1], [code(s) for s in order], [acc[s] for s in order], scale=plots.ACCURACY)
        axes[1].set_xticks(range(len(order)), [code(s) for s in order], rotation=90, fontfamily="monospace")
        axes[1].axhline(50, color="grey", linestyle=":")
        axes[1].set(ylabel="test accuracy (%)", ylim=(0, 105),
                    title="Sorted (S skip, N norm, A attention, P PE; - removed)")
        out.append(plots.save(fig, fig_dir, "51_ablation_matrix.png"))

        fig, ax = plots.figure(width=6.5)
        pairs = list(itertools.combinations(NAMES, 2))
        plots.bars_with_ci(ax, [f"{a}+{b}" for a, b in pairs],
                           [list(interaction(results, a, b).values()) for a, b in pairs], color="C2",
                           scale=plots.UNBOUNDED)  # a sum of four accuracies with signs
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set(ylabel="drop(both) - drop(a) - drop(b) (points)",
               title="Interactions: above 0 the pair hurts more than the sum of its parts")
        out.append(plots.save(fig, fig_dir, "51_ablation_interactions.png"))
        return out

    def measure(self, results):
        out = []
        for removed, (label, value) in SEED_ROWS.items():
            out.append(Measurement("C000-13", f"~{value}%", seed_values(results, cell_name(removed), "test_acc"), "%",
                                   around(value, 5), part=label, note="'~X' tested as within ±5 points of X"))
        for high, low in zip(SEED_RANKING, SEED_RANKING[1:]):
            first, second = importance(results, high), importance(results, low)
            diff = [first[s] - second[s] for s in sorted(first.keys() & second.keys())]
            out.append(Measurement("C000-14", f"{high} > {low}", diff, "points", at_least(0), part=f"{high} > {low}",
                                   note="per seed: drop without the first minus drop without the second; "
                                        "the ranking holds if every adjacent pair holds"))
        for a, b in itertools.combinations(NAMES, 2):
            out.append(Measurement("C000-15", "super-additive", list(interaction(results, a, b).values()), "points",
                                   at_least(0),
                                   part=f"{a} + {b}", note="drop(both) - drop(a) - drop(b) per seed; the claim "
                                                           "holds only if all six pairs are super-additive"))
        return out


def importance(results: dict, component: str) -> dict[int, float]:
    """seed -> the accuracy lost when `component` alone is removed."""
    return drops(results, "full", cell_name((component,)))


def interaction(results: dict, a: str, b: str) -> dict[int, float]:
    """seed -> drop(a and b removed) - drop(a) - drop(b)."""
    both = drops(results, "full", cell_name(tuple(n for n in NAMES if n in (a, b))))
    da, db = importance(results, a), importance(results, b)
    return {s: both[s] - da[s] - db[s] for s in sorted(both.keys() & da.keys() & db.keys())}


def _label(removed: tuple[str, ...], a: str, b: str) -> str:
    """'skip\nno norm': which of two components a row or column keeps."""
    return "\n".join(f"no {n}" if n in removed else n for n in (a, b))
