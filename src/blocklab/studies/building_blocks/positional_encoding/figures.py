"""The figures of study 49 (positional encoding), drawn from its results.json alone."""
from __future__ import annotations

import textwrap

import numpy as np

from blocklab.report import plots
from blocklab.report.results import finished_runs, seed_values

from .config import EXTRAP_PES, TASK_PES


def draw_all(results: dict, fig_dir) -> list[str]:
    figures = {"49_positional_task.png": task, "49_positional_sinusoidal.png": sinusoidal,
               "49_positional_alibi.png": alibi, "49_positional_comparison.png": comparison,
               "49_positional_rope.png": rope, "49_pe_failures.png": failures}
    return [plots.save(draw(results), fig_dir, name) for name, draw in figures.items()]


def _keys(results: dict) -> list[str]:
    return ["CLS", "Q"] + [f"x{i}" for i in range(1, results["config"]["length"] + 1)]


def _log_lengths(ax, lengths: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()


def _nothing(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no finished run of {what}", ha="center", va="center", transform=ax.transAxes)


def task(results: dict):
    fig, axes = plots.figure(1, 3, width=4.3)
    cells, labels = ("task-none", "task-sinusoidal"), ("no PE", "sinusoidal PE")
    plots.bars_with_ci(axes[0], labels, [seed_values(results, c, "test_acc") for c in cells], scale=plots.ACCURACY)
    axes[0].axhline(100 / results["config"]["n_symbols"], color="grey", linestyle=":", label="chance")
    axes[0].set(ylabel="test accuracy (%)", ylim=(0, 105),
                title="First-vs-last, L = 5 (source document: 39.5% vs 100%)")
    axes[0].legend()
    keys = _keys(results)
    for ax, query in zip(axes[1:], ("first", "last")):
        for cell, label in zip(cells, labels):
            curves = [plots.finite_mean(r["metrics"]["attention"][query], axis=0) for r in finished_runs(results, cell)]
            if curves:
                plots.line_with_band(ax, range(len(keys)), curves, label=label, scale=plots.FRACTION)
        ax.set_xticks(range(len(keys)), keys)
        ax.set(ylabel="CLS attention (last layer, mean of heads)", title=f"Where CLS looks when Q = {query.upper()}")
        ax.legend()
    return fig


def sinusoidal(results: dict):
    fig, axes = plots.figure(1, 2, width=5.2)
    runs = finished_runs(results, "extrap-sinusoidal")
    if not runs:
        _nothing(axes[0], "extrap-sinusoidal")
        return fig
    table = plots.as_floats(runs[0]["metrics"]["table"])  # (P, D); NaN if the run diverged
    image = axes[0].imshow(table.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=axes[0])
    axes[0].set(xlabel="position", ylabel="dimension (sin, cos interleaved)",
                title="The trained model's sinusoidal table (base 10000)")
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    image = axes[1].imshow(unit @ unit.T, cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=axes[1])
    axes[1].set(xlabel="position", ylabel="position", title="Cosine similarity of two positions' encodings")
    for ax in axes:
        ax.grid(False)
    return fig


def alibi(results: dict):
    fig, axes = plots.figure(1, 3, width=4.3)
    runs = finished_runs(results, "task-alibi")
    if not runs:
        _nothing(axes[0], "task-alibi")
        return fig
    bias = plots.as_floats(runs[0]["metrics"]["alibi_bias"])  # (H, T, T)
    for h in range(bias.shape[0]):
        axes[0].plot(range(bias.shape[2]), bias[h, 0], marker="o", label=f"head {h}, slope {-bias[h, 0, 1]:.3g}")
    axes[0].set(xlabel="key position (CLS at 0)", ylabel="bias on CLS's scores",
                title="ALiBi bias, read from the model")
    axes[0].legend(fontsize=7)
    for ax, query in zip(axes[1:], ("first", "last")):
        pattern = plots.finite_mean([r["metrics"]["attention"][query] for r in runs], axis=0)  # (H, S)
        plots.heatmap(ax, pattern, [f"head {h}" for h in range(len(pattern))], _keys(results), fmt="{:.2f}")
        ax.set_title(f"Trained CLS attention, Q = {query.upper()}\n(last layer, mean of seeds; acc "
                     f"{np.nanmean(seed_values(results, 'task-alibi', 'test_acc')):.0f}%)")
    return fig


def comparison(results: dict):
    fig, axes = plots.figure(1, 3, width=4.5)
    cells = [f"task-{pe}" for pe in TASK_PES] + ["task-sinusoidal-scaled"]
    labels = [c.removeprefix("task-") for c in cells]
    plots.bars_with_ci(axes[0], labels, [seed_values(results, c, "test_acc") for c in cells], scale=plots.ACCURACY)
    axes[0].set(ylabel="test accuracy (%)", ylim=(0, 105), title=f"First-vs-last, L = {results['config']['length']}")
    for cell, label in zip(cells, labels):
        runs = finished_runs(results, cell)
        if runs:
            plots.line_with_band(axes[1], runs[0]["metrics"]["curve"]["step"],
                                 [r["metrics"]["curve"]["val_acc"] for r in runs], label=label, scale=plots.ACCURACY)
    axes[1].set(xlabel="step", ylabel="validation accuracy (%)", title="Training")
    axes[1].legend(fontsize=7)
    for pe in EXTRAP_PES:
        runs = finished_runs(results, f"extrap-{pe}")
        if runs:
            label = f"{pe} (clamped past its table)" if pe == "learned" else pe
            plots.line_with_band(axes[2], runs[0]["metrics"]["extrapolation"]["lengths"],
                                 [r["metrics"]["extrapolation"]["acc"] for r in runs], label=label,
                                 scale=plots.ACCURACY)
    axes[2].axhline(55, color="grey", linestyle=":", label="FIRST right, LAST chance")
    _log_lengths(axes[2], [results["config"]["extrap_length"], *results["config"]["extrap_test_lengths"]])
    axes[2].set(xlabel="test length (trained at the first)", ylabel="test accuracy (%)", ylim=(0, 105),
                title="Length extrapolation")
    axes[2].legend(fontsize=7)
    return fig


def rope(results: dict):
    fig, axes = plots.figure(1, 3, width=4.3)
    for ax, cell in zip(axes[:2], ("task-rope", "task-sinusoidal")):
        runs = finished_runs(results, cell)
        if not runs:
            _nothing(ax, cell)
            continue
        probe = runs[0]["metrics"]["offsets"]
        for row, scores in zip(probe["rows"], probe["scores"]):
            ax.plot(probe["offsets"], scores, marker=".", label=f"query at position {row}")
        ax.set(xlabel="offset d of the key (position i + d)", ylabel="score, layer 0, head 0",
               title=f"{cell.removeprefix('task-')}: one symbol repeated (seed 0)")
        ax.legend(fontsize=7)
    cells = ["task-none", "task-sinusoidal", "task-alibi", "task-rope"]
    plots.bars_with_ci(axes[2], [c.removeprefix("task-") for c in cells],
                       [seed_values(results, c, "offsets.invariance_error") for c in cells], scale=plots.NONNEGATIVE)
    axes[2].set(ylabel="max spread across query positions / score range",
                title="Does the score depend on the offset only?")
    return fig


def failures(results: dict):
    fig, axes = plots.figure(2, 2, width=5.5, height=4.0)
    base_cells = ["extrap-sinusoidal"] + [c["name"] for c in results["cells"] if c["params"]["kind"] == "base"]
    bases = ["10000 (reference)"] + [c.split("=", 1)[1] for c in base_cells[1:]]
    plots.bars_with_ci(axes[0, 0], bases, [seed_values(results, c, "max_cosine") for c in base_cells],
                       scale=plots.COSINE)
    for i, cell in enumerate(base_cells):
        distance = np.nanmean(seed_values(results, cell, "min_distance") or [np.nan])
        axes[0, 0].annotate(f"min distance {distance:.2f}", (i, 0.05), ha="center", fontsize=8, color="white")
    axes[0, 0].set(xlabel="pos_base", ylabel="max cosine similarity, positions 0..99", ylim=(0, 1.05),
                   title=f"Wrong frequency base (d_model {results['config']['d_model']})")
    plots.bars_with_ci(axes[0, 1], bases, [seed_values(results, c, "test_acc") for c in base_cells],
                       scale=plots.ACCURACY)
    axes[0, 1].axhline(55, color="grey", linestyle=":", label="FIRST right, LAST chance")
    axes[0, 1].set(xlabel="pos_base", ylabel="test accuracy (%)", ylim=(0, 105),
                   title=f"Trained with that base at length {results['config']['extrap_length']}")
    axes[0, 1].legend()
    runs = finished_runs(results, "extrap-learned")
    if runs:
        lengths = runs[0]["metrics"]["extrapolation"]["lengths"]  # the first is the training length
        for query in ("first", "last"):
            curves = [r["metrics"]["extrapolation"][query] for r in runs]
            plots.line_with_band(axes[1, 0], lengths, curves, label=f"Q = {query.upper()}", scale=plots.ACCURACY)
        error = runs[0]["metrics"]["extrapolation"]["error"] or "no error"
        axes[1, 0].text(0.02, 0.02, "learned_overflow='error':\n" + textwrap.fill(error, 60), fontsize=6.5,
                        transform=axes[1, 0].transAxes, va="bottom")
        axes[1, 0].legend()
    _log_lengths(axes[1, 0], [results["config"]["extrap_length"], *results["config"]["extrap_test_lengths"]])
    axes[1, 0].set(xlabel="test length", ylabel="accuracy, clamped table (%)", ylim=(0, 105),
                   title="Learned PE past max_len")
    labels, values = [], []
    for when, word in (("init", "init"), ("final", "trained")):
        for cell, scaled in (("task-sinusoidal", "unscaled"), ("task-sinusoidal-scaled", "x sqrt(d)")):
            labels.append(f"{word}, {scaled}")
            values.append(seed_values(results, cell, f"pe_ratio_{when}"))
    plots.bars_with_ci(axes[1, 1], labels, values, scale=plots.NONNEGATIVE)
    axes[1, 1].axhline(1, color="C3", linestyle="--", label="PE as large as the token vector")
    axes[1, 1].set_yscale("log")
    acc = [np.nanmean(seed_values(results, c, "test_acc") or [np.nan])
           for c in ("task-sinusoidal", "task-sinusoidal-scaled")]
    axes[1, 1].set(ylabel="|PE| / |token embedding|",
                   title=f"Embedding scale (accuracy {acc[0]:.0f}% unscaled, {acc[1]:.0f}% scaled)")
    axes[1, 1].legend()
    zero = np.nanmean(seed_values(results, "task-none", "test_acc") or [np.nan])
    mismatch = [r["metrics"].get("dimension_mismatch", "") for r in finished_runs(results, "task-sinusoidal")][:1]
    fig.suptitle(f"All-zero PE (= none): {zero:.0f}% at L = {results['config']['length']}.   Width mismatch: "
                 + textwrap.shorten(mismatch[0] if mismatch else "not run", 90), fontsize=9)
    return fig
