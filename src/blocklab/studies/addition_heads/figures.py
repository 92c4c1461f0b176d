"""The addition-heads study's figures (study.py), drawn from the results dict alone, so `blocklab plot` and
`blocklab report` redraw them without training. What each one plots: captions.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blocklab.report import plots
from blocklab.report.results import per_seed

from .analysis import (
    PRUNABLE,
    UNDER_TRAINED,
    claims_cell,
    drops,
    final_state,
    head_cells,
    trained_cells,
    under_trained_states,
    wrong_again,
)


def draw_all(results: dict, fig_dir: Path) -> list[str]:
    if not trained_cells(results):
        return []
    names = [decodings(results, fig_dir), training(results, fig_dir), cascade_figure(results, fig_dir),
             by_carries(results, fig_dir)]
    if head_cells(results):
        names += [head_importance(results, fig_dir), pruning(results, fig_dir), alignment_figure(results, fig_dir)]
        names += attention_probes(results, fig_dir)
    return names


def decodings(results: dict, fig_dir: Path) -> str:
    cells = trained_cells(results)
    fig, axes = plots.figure(1, len(cells), width=4.2, height=3.8)
    for ax, cell in zip(np.atleast_1d(axes), cells):
        t = [m["test"] for m in list(per_seed(results, cell).values())]
        labels = ["TF token", "TF exact", "greedy exact", *(f"beam {k} exact" for k in t[0]["beam_em"])]
        values = [[x["tf_token_acc"] for x in t], [x["tf_em"] for x in t], [x["greedy_em"] for x in t],
                  *([x["beam_em"][k] for x in t] for k in t[0]["beam_em"])]
        plots.bars_with_ci(ax, labels, values, scale=plots.ACCURACY)
        low = min(min(v) for v in values)
        ax.set_ylim(max(0.0, low - 2), 100.5)
        ax.set_ylabel("accuracy on held-out problems (%)")
        ax.set_title(cell)
    fig.suptitle("Teacher-forced vs greedy vs beam, mean and 95% CI over seeds (dots: seeds)")
    return plots.save(fig, fig_dir, "decoding_comparison.png")


def training(results: dict, fig_dir: Path) -> str:
    fig, ax = plots.figure(width=7, height=4.2)
    for cell in trained_cells(results):
        hist = [m["history"] for m in list(per_seed(results, cell).values())]
        plots.line_with_band(ax, [h["step"] for h in hist[0]], [[100 * h["val_greedy_em"] for h in s] for s in hist],
                             label=cell, scale=plots.ACCURACY)
    ax.axhline(99, color="grey", linestyle="--", linewidth=1, label="99%")
    ax.set(xlabel="training step", ylabel="validation greedy exact match (%)", ylim=(0, 101),
           title="Greedy exact match during training (time-to-99% = first crossing)")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "training_greedy_accuracy.png")


def cascade_figure(results: dict, fig_dir: Path) -> str:
    """Per answer position, teacher-forced vs greedy digit accuracy on the held-out set; and how
    often a first greedy mistake is followed by another, on the final model and at the
    under-trained checkpoint, against teacher forcing from the true prefix."""
    cells = trained_cells(results)
    fig, axes = plots.figure(1, 3, width=5, height=4)
    width = 0.8 / len(cells)
    for i, cell in enumerate(cells):
        ms = list(per_seed(results, cell).values())
        t = [m["test"] for m in ms]
        (line,) = axes[0].plot(range(1, 5), np.mean([x["greedy_acc_by_position"] for x in t], axis=0), marker="o",
                               label=f"{cell} greedy")
        axes[0].plot(range(1, 5), np.mean([x["tf_acc_by_position"] for x in t], axis=0), marker="x", linestyle="--",
                     color=line.get_color(), label=f"{cell} teacher-forced")
        final, early = ([np.mean(v) if v else np.nan for v in wrong_again(states)]  # [greedy %, teacher-forced %]
                        for states in ([final_state(x) for x in t], under_trained_states(ms)))
        for ax, vals in ((axes[1], final), (axes[2], early)):
            ax.bar(np.arange(2) + (i - (len(cells) - 1) / 2) * width, vals, width=width, color=line.get_color(),
                   label=cell)
    axes[0].set(xlabel="answer position (generation order)", ylabel="digit accuracy, held-out (%)",
                xticks=range(1, 5), title="Digit accuracy by position (mean over seeds)")
    axes[0].set_ylim(top=100.5)
    for ax, when in ((axes[1], "Cascade: final model (held-out)"),
                     (axes[2], f"Cascade: first checkpoint >= {UNDER_TRAINED:.0%} tokens (val)")):
        ax.set_xticks([0, 1], ["greedy (own prefix)", "teacher-forced (true prefix)"])
        ax.set(ylabel="failed problems wrong again later (%)", title=when)
        if not any(np.isfinite(b.get_height()) for b in ax.patches):
            ax.text(0.5, 0.5, "no failed problems", transform=ax.transAxes, ha="center", color="grey")
            ax.set_yticks([])
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return plots.save(fig, fig_dir, "error_cascade.png")


def by_carries(results: dict, fig_dir: Path) -> str:
    fig, ax = plots.figure(width=6.5, height=4)
    for cell in trained_cells(results):
        t = [m["test"] for m in list(per_seed(results, cell).values())]
        curves = [[x["by_carries"][str(c)]["greedy_em"] for c in range(4)] for x in t]
        plots.line_with_band(ax, range(4), curves, label=cell, scale=plots.ACCURACY)
    ax.set(xlabel="number of carries in the problem", ylabel="greedy exact match (%)", xticks=range(4),
           title="Held-out accuracy by number of carries (95% CI over seeds)")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "accuracy_by_carries.png")


def head_importance(results: dict, fig_dir: Path) -> str:
    cells = head_cells(results)
    fig, axes = plots.figure(len(cells), 1, width=12, height=3.8)
    for ax, cell in zip(np.atleast_1d(axes), cells):
        ms = list(per_seed(results, cell).values())
        names = ms[0]["heads"]["names"]
        xs = np.arange(len(names))
        for k, (meth, color) in enumerate((("zero", "C3"), ("mean", "C0"))):
            d = np.array([drops(m, meth) for m in ms])  # (seeds, 24)
            # Seeds as dots, not a t-interval: a head's index means nothing across trainings (heads
            # of a module are interchangeable), so the spread is bimodal and an interval misleads.
            x = xs + (k - 0.5) * 0.4
            ax.bar(x, d.mean(axis=0), width=0.4, color=color, alpha=0.6, label=f"{meth} ablation, mean")
            ax.scatter(np.broadcast_to(x, d.shape), d, s=9, color=color, edgecolor="black", linewidth=0.4, zorder=3)
        ax.axhline(ms[0]["heads"]["baseline"]["em"] * (1 - PRUNABLE), color="grey", linestyle="--", linewidth=1,
                   label="1% of baseline")
        ax.set_xticks(xs, [n.replace("_head_", "/h") for n in names], rotation=60, ha="right", fontsize=7)
        ax.set(ylabel="greedy exact match lost (points)",
               title=f"{cell}: each head ablated alone (bars: mean over {len(ms)} seeds; dots: each seed)")
        ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "head_importance.png")


def pruning(results: dict, fig_dir: Path) -> str:
    fig, ax = plots.figure(width=7, height=4.2)
    for cell in head_cells(results):
        ms = list(per_seed(results, cell).values())
        plots.line_with_band(ax, range(len(ms[0]["heads"]["pruning"])),
                             [[s["em"] for s in m["heads"]["pruning"]] for m in ms], label=f"{cell} (jointly pruned)",
                             scale=plots.ACCURACY)
    ax.axvspan(0.2 * 24, 0.4 * 24, color="grey", alpha=0.12, label="Michel et al. 2019: 20-40% prunable")
    ax.set(xlabel="heads removed (greedy order, zero ablation)", ylabel="held-out greedy exact match (%)",
           ylim=(0, 101), title="Cumulative pruning: the pruned model evaluated at every step")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "pruning_curve.png")


def alignment_figure(results: dict, fig_dir: Path) -> str:
    cells = head_cells(results)
    fig, axes = plots.figure(1, len(cells), width=5.5, height=3.8)
    for ax, cell in zip(np.atleast_1d(axes), cells):
        ms = list(per_seed(results, cell).values())
        labels = list(ms[0]["heads"]["alignment"])
        matrix = [np.mean([m["heads"]["alignment"][lab] for m in ms], axis=0) for lab in labels]
        chance = ms[0]["heads"]["alignment_chance"]
        plots.heatmap(ax, matrix, [f"{lab} (chance {chance[lab]:.2f})" for lab in labels],
                      [f"head {h}" for h in range(len(matrix[0]))], fmt="{:.2f}", colorbar=False)
        ax.set_title(f"{cell}: attention on the column's digits")
    return plots.save(fig, fig_dir, "column_alignment.png")


def attention_probes(results: dict, fig_dir: Path) -> list[str]:
    """One figure per probe sum: every head's attention (seed 0 of the claims cell)."""
    cell = claims_cell(results) or head_cells(results)[0]
    m = list(per_seed(results, cell).values())[0]
    names = []
    for probe, entry in m["heads"]["probes"].items():
        labels = list(entry["attention"])
        heads = len(entry["attention"][labels[0]])
        fig, axes = plots.figure(len(labels), heads, width=2.2, height=2.0)
        src = [str(t) if t < 10 else "+" for t in entry["src"]]
        dec = ["=" if t == 11 else str(t) for t in entry["dec_in"]]
        for r, lab in enumerate(labels):
            for h in range(heads):
                ax = axes[r, h]
                ax.imshow(np.array(entry["attention"][lab][h]), vmin=0, vmax=1, cmap="viridis")
                ax.grid(False)
                rows = src if lab.startswith("encoder") else dec
                cols = dec if "decoder" in lab and "self" in lab else src
                ax.set_xticks(range(len(cols)), cols, fontsize=6)
                ax.set_yticks(range(len(rows)), rows, fontsize=6)
                ax.set_title(f"{lab} h{h}", fontsize=7)
        fig.suptitle(f"{probe} = {sum(map(int, probe.split('+')))} (model says {entry['answer']}); {cell}, seed 0; "
                     "rows query, columns key")
        names.append(plots.save(fig, fig_dir, f"attention_{probe.replace('+', '_plus_')}.png"))
    return names
