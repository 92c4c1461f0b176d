"""The figures of the length-extrapolation study (study.py), drawn from the
results dict only, so `blocklab plot` redraws them without training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blocklab.report import plots
from blocklab.report.results import as_floats, finished_runs, per_seed, seed_values
from blocklab.report.stats import mean_ci

from .claims import beyond, chance_of, label, lengths, task_cells, tasks

SEED_FIGURES = ("extrapolation_curves.png", "learned_position_embeddings.png", "position_similarity.png",
                "first_layer_attention.png", "pe_failure_modes.png")


def draw_all(results: dict, fig_dir: Path) -> list[str]:
    return [extrapolation_curves(results, fig_dir), learned_tables(results, fig_dir),
            matrices(results, fig_dir, "kernel", "position_similarity.png",
                     "How alike positions are to each encoding (sortedness models, seed 0)"),
            matrices(results, fig_dir, "attention", "first_layer_attention.png",
                     "Block 0 attention, mean over heads and 64 inputs of length 32 (trained to 16)"),
            failure_modes(results, fig_dir)]


def extrapolation_curves(results: dict, fig_dir: Path) -> str:
    names = tasks(results)
    fig, axes = plots.figure(1, len(names), width=6.5, height=4.4)
    train = results["config"]["train_lengths"]
    for ax, task in zip(np.atleast_1d(axes), names):
        cells = task_cells(results, task)
        for i, c in enumerate(cells):
            xs = np.array(lengths(results, c["name"]))
            shift = 2 ** (0.06 * (i - (len(cells) - 1) / 2))  # side by side, so the error bars do not hide each other
            plots.points_with_ci(ax, xs * shift, [seed_values(results, c["name"], f"acc.{n}") for n in xs],
                                 label=label(c["params"]), scale=plots.ACCURACY)
            if c["params"]["encoding"] == "learned":
                past = [n for n, msg in list(per_seed(results, c["name"], "error_policy").values())[0].items() if msg]
                if past:
                    ax.annotate(f"learned (error policy): raises at {min(map(int, past))}+", (0.02, 0.03),
                                xycoords="axes fraction", fontsize=7)
        ax.axvspan(min(train), max(train), color="grey", alpha=0.15, label="training lengths")
        ax.axhline(chance_of(results, task), color="black", linestyle=":", linewidth=1, label="chance")
        ax.set_xscale("log", base=2)
        ticks = lengths(results, cells[0]["name"])
        ax.set_xticks(ticks, [str(n) for n in ticks], minor=False)
        ax.minorticks_off()
        ax.set_xlabel("test length (tokens)")
        ax.set_ylabel(f"accuracy (%), mean and 95% CI over {len(results['seeds'])} seeds")
        ax.set_ylim(0, 105)
        ax.set_title(f"{task}: trained on lengths {min(train)}-{max(train)}")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    return plots.save(fig, fig_dir, "extrapolation_curves.png")


def learned_tables(results: dict, fig_dir: Path) -> str:
    cells = [c for t in tasks(results) for c in task_cells(results, t)
             if c["params"]["encoding"] == "learned" and not c["params"]["randomized"]]
    fig, axes = plots.figure(max(1, len(cells)), 2, width=5, height=3.6)
    axes = np.atleast_2d(axes)
    for row, c in zip(axes, cells):
        for ax, key in zip(row, ("init", "trained")):
            table = as_floats(list(per_seed(results, c["name"], f"table_{key}").values())[0])  # (positions, D)
            score = mean_ci(seed_values(results, c["name"], f"structure_{key}"))
            top = np.nanmax(np.abs(table), initial=0.0) or 1.0  # NaN (a diverged seed's null) is not drawn
            image = ax.imshow(table, cmap="RdBu_r", aspect="auto", vmin=-top, vmax=top)
            fig.colorbar(image, ax=ax)
            ax.grid(False)
            ax.set_xlabel("model dimension")
            ax.set_ylabel("position")
            ax.set_title(f"{c['params']['task']}, {'at initialization' if key == 'init' else 'trained'} (seed 0)\n"
                         f"neighbour structure score {_shown(score.mean)} (mean over {score.n} seeds)", fontsize=9)
    return plots.save(fig, fig_dir, "learned_position_embeddings.png")


def matrices(results: dict, fig_dir: Path, key: str, name: str, title: str) -> str:
    cells = [c for c in task_cells(results, "sortedness") if key in finished_runs(results, c["name"])[0]["metrics"]]
    cols = min(4, max(1, len(cells)))
    rows = -(-max(1, len(cells)) // cols)
    fig, axes = plots.figure(rows, cols, width=3.6, height=3.4)
    longest = max(results["config"]["train_lengths"])
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[len(cells):]:
        ax.set_axis_off()
    for ax, c in zip(axes, cells):
        image = ax.imshow(as_floats(list(per_seed(results, c["name"], key).values())[0]), cmap="viridis")
        fig.colorbar(image, ax=ax, shrink=0.8)
        for edge in (ax.axhline, ax.axvline):
            edge(longest - 0.5, color="white", linestyle="--", linewidth=0.8)
        ax.grid(False)
        ax.set_title(label(c["params"]), fontsize=9)
        ax.set_xlabel("key position" if key == "attention" else "position")
        ax.set_ylabel("query position" if key == "attention" else "position")
    fig.suptitle(f"{title}; dashed: end of the training range")
    return plots.save(fig, fig_dir, name)


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def failure_modes(results: dict, fig_dir: Path) -> str:
    """The seed's failure was training; here: training curves, the bag-of-tokens control, and
    which negatives break first at the longest length tested up to 256."""
    fig, (curves, gaps, kinds) = plots.figure(1, 3, width=5.6, height=4.4)
    cells = task_cells(results, "sortedness")
    for c in cells:
        runs = finished_runs(results, c["name"])
        steps = max((r["metrics"]["curve_steps"] for r in runs), key=len)  # seeds stop early at different steps
        plots.line_with_band(curves, steps, [r["metrics"]["val_curve"] for r in runs], label=label(c["params"]),
                             scale=plots.ACCURACY)
    curves.set(xlabel="training step", ylabel="validation accuracy (%), lengths 8-16", ylim=(0, 105),
               title="Training on lengths 8-16 (the source document's stayed at 50%)")
    curves.legend(fontsize=7)
    nones = [c for c in cells if "permutation_gap" in finished_runs(results, c["name"])[0]["metrics"]]
    values = [seed_values(results, c["name"], "permutation_gap") for c in nones]
    gaps.bar(range(len(nones)), [max(np.mean(v), 1e-9) for v in values], color="C0", alpha=0.8)
    for i, v in enumerate(values):
        gaps.plot([i] * len(v), np.maximum(v, 1e-9), "o", color="black", markersize=3)
        gaps.annotate(f"{np.mean(v):.1e}", (i, max(np.mean(v), 1e-9)), ha="center", va="bottom", fontsize=8)
    gaps.set_xticks(range(len(nones)), [label(c["params"]) for c in nones])
    gaps.set_yscale("log")
    gaps.set(ylabel="max |logit change| when shuffled (dots: seeds)", title="No positions: causal mask vs bag")
    if cells:
        last = max(beyond(results, cells[0]["name"]) or lengths(results, cells[0]["name"]))
        names = ("sorted", "adjacent_swap", "far_swap", "moved")
        width = 0.8 / len(cells)
        for i, c in enumerate(cells):
            runs = finished_runs(results, c["name"])
            values = [plots.finite_mean([r["metrics"]["by_kind"][str(last)].get(k, np.nan) for r in runs])
                      for k in names]
            kinds.bar(np.arange(len(names)) + i * width, values, width, label=label(c["params"]))
        kinds.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=20)
        kinds.set(ylabel=f"accuracy at length {last} (%), mean over seeds", title="Which rows fail at long lengths")
        kinds.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    return plots.save(fig, fig_dir, "pe_failure_modes.png")
