"""Figures of the training-dynamics study drawn from results.json: the baseline's dynamics.

Curves show the mean over seeds with a 95% band; maps and matrices (attention, FFN, PCA)
show seed 0 of the cell, as one seed's internals do not average (heads and neurons are
permuted between seeds), except the confusion matrices, which are means over seeds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blocklab.report import plots
from blocklab.report.results import as_floats, per_seed
from blocklab.tasks.operations import OPS, VOCAB, encode

from . import sweep_figures as sweeps
from .claims import SPLIT_NAMES
from .record import PROBES

SPLIT_CELLS = ("baseline-seed", "baseline-disjoint")
ATTENTION_EPOCHS = (1, 10, 30, 50)
KIND_COLORS = {"op": "C3", "digit": "C0", "other": "C7"}


def column(recs: list[dict], key: str, pick=lambda v: v) -> list[list[float]]:
    return [[None if v is None else pick(v) for v in rec["curves"][key]] for rec in recs if key in rec["curves"]]


def _kind(token: str) -> str:
    return "op" if token in OPS or token == "Middle" else "digit" if token.isdigit() else "other"


def figures(results: dict, fig_dir: Path) -> list[str]:
    names = []
    recs = {c: list(per_seed(results, c, "record").values()) for c in SPLIT_CELLS}
    if any(recs.values()):
        names += [_curves(recs, fig_dir), _per_op(recs, fig_dir)]
    base = recs["baseline-seed"]
    if base and base[0].get("snapshots", {}).get("epoch"):
        names += [_confusion(base, fig_dir), *_attention(base[0], fig_dir), _embeddings(base, fig_dir),
                  _ffn(base[0], fig_dir), _gradients(base, fig_dir), _parameters(base, fig_dir)]
    return names + sweeps.figures(results, fig_dir)


def _curves(recs: dict, fig_dir: Path) -> str:
    fig, axes = plots.figure(1, 2, width=6)
    for cell, style in zip(SPLIT_CELLS, ("-", "--")):
        for split, color in (("train", "C0"), ("val", "C1"), ("test", "C2")):
            for ax, metric in zip(axes, ("loss", "acc")):
                rs = recs[cell]
                if rs:
                    plots.line_with_band(ax, rs[0]["curves"]["epoch"], column(rs, f"{split}_{metric}"),
                                         label=f"{split} ({SPLIT_NAMES[cell.split('-')[1]]} split)", color=color,
                                         scale=plots.LOSS if metric == "loss" else plots.ACCURACY)
                    ax.lines[-1].set_linestyle(style)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="Loss (train: running mean, dropout on)")
    axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy; solid: source-document split, dashed: disjoint")
    axes[1].legend(fontsize=7)
    return plots.save(fig, fig_dir, "td_loss_accuracy.png")


def _per_op(recs: dict, fig_dir: Path) -> str:
    fig, axes = plots.figure(1, 2, width=5.5)
    for ax, cell in zip(axes, SPLIT_CELLS):
        for k, op in enumerate(OPS):
            if recs[cell]:
                plots.line_with_band(ax, recs[cell][0]["curves"]["epoch"],
                                     column(recs[cell], "test_acc_op", lambda v, k=k: v[k]), label=op,
                                     scale=plots.ACCURACY)
        ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"Per-op test accuracy, {cell.split('-')[1]} split")
    axes[0].legend(fontsize=8)
    return plots.save(fig, fig_dir, "td_per_op.png")


def _confusion(base: list[dict], fig_dir: Path) -> str:
    fig, axes = plots.figure(1, 2, width=6.5, height=4.5)
    op = plots.finite_mean([r["confusion"]["op"] for r in base], axis=0)  # a diverged seed's nulls left out
    plots.heatmap(axes[0], op, OPS, [*OPS, "other"], fmt="{:.1f}", colorbar=False)
    axes[0].set(xlabel="answer given was this op's answer", ylabel="true op",
                title="Op confusion, final epoch, test (% of rows)")
    digit = plots.finite_mean([r["confusion"]["digit"] for r in base], axis=0)  # (10 answers, 20 predicted tokens)
    shown = np.concatenate([digit[:, 2:12], digit[:, [i for i in range(20) if not 2 <= i < 12]].sum(1, keepdims=True)],
                           axis=1)
    shown = 100 * shown / np.maximum(shown.sum(1, keepdims=True), 1)
    plots.heatmap(axes[1], shown, [str(d) for d in range(10)], [*(str(d) for d in range(10)), "non-digit"],
                  fmt="{:.0f}", colorbar=False)
    axes[1].set(xlabel="predicted", ylabel="true answer digit", title="Answer-digit confusion (% of row)")
    return plots.save(fig, fig_dir, "td_confusion.png")


def _attention(rec: dict, fig_dir: Path) -> list[str]:
    snaps = rec["snapshots"]
    names = []
    for epoch in [e for e in snaps["epoch"] if e in ATTENTION_EPOCHS or e == max(snaps["epoch"])]:
        maps = snaps["attention"][snaps["epoch"].index(epoch)]  # blocks x probes x heads x T x T
        if not maps:
            continue
        labels = [VOCAB[t] for t in encode(PROBES[0])]
        fig, axes = plots.figure(len(maps), len(maps[0][0]), width=2.6, height=2.5)
        axes = np.atleast_2d(axes)
        for b, block in enumerate(maps):
            for h, head in enumerate(block[0]):
                ax = axes[b, h]
                ax.imshow(as_floats(head), vmin=0, vmax=1, cmap="magma")
                ax.set_xticks(range(len(labels)), labels, fontsize=7)
                ax.set_yticks(range(len(labels)), labels, fontsize=7)
                ax.grid(False)
                ax.set_title(f"block {b + 1} head {h + 1}", fontsize=8)
        fig.suptitle(f"Attention on {PROBES[0]} at epoch {epoch} (seed 0; rows attend to columns)")
        names.append(plots.save(fig, fig_dir, f"td_attention_epoch{epoch}.png"))
    return names


def _embeddings(base: list[dict], fig_dir: Path) -> str:
    rec = base[0]
    coords = rec["embedding_pca"]["coords"]
    epochs = rec["curves"]["epoch"]
    shown = sorted({e for e in (0, 1, 10, 30) if e in epochs} | {epochs[-1]})  # a diverged run may stop at 0.5
    fig, axes = plots.figure(2, len(shown), width=3.0, height=3.0)
    for ax, e in zip(axes[0], shown):
        pts = as_floats(coords[epochs.index(e)])  # (tokens, 2)
        for t, (x, y) in enumerate(pts):
            ax.scatter(x, y, color=KIND_COLORS[_kind(VOCAB[t])], s=14)
            ax.annotate(VOCAB[t], (x, y), fontsize=6)
        ax.set(title=f"epoch {e}", xlabel="PC 1 (final)", ylabel="PC 2 (final)")
    cos_ax = axes[1][0]
    for key, label in (("cos_op_op", "op-op"), ("cos_digit_digit", "digit-digit"), ("cos_op_digit", "op-digit")):
        plots.line_with_band(cos_ax, epochs, column(base, key), label=label, scale=plots.COSINE)
    cos_ax.set(xlabel="epoch", ylabel="mean cosine", title="Embedding clusters (all seeds)")
    cos_ax.legend(fontsize=7)
    snaps = rec["snapshots"]
    for ax, i in zip(axes[1][1:], range(len(snaps["epoch"]))):
        ax.imshow(as_floats(snaps["cosine"][i]), vmin=-1, vmax=1, cmap="coolwarm")
        ax.set_xticks(range(20), VOCAB, fontsize=5, rotation=90)
        ax.set_yticks(range(20), VOCAB, fontsize=5)
        ax.grid(False)
        ax.set_title(f"cosine, epoch {snaps['epoch'][i]}", fontsize=8)
    for ax in axes[1][1 + len(snaps["epoch"]):]:
        ax.set_visible(False)
    fig.suptitle("Token embeddings projected on the final epoch's two principal axes (seed 0; red ops, blue digits)")
    return plots.save(fig, fig_dir, "td_embeddings.png")


def _ffn(rec: dict, fig_dir: Path) -> str:
    snaps, means = rec["snapshots"], rec["ffn_mean"]
    i = len(snaps["epoch"]) - 1  # the last snapshot's eta^2 orders the neurons
    n_blocks = len(means["op"])
    fig, axes = plots.figure(2, max(1, n_blocks), width=6.5, height=2.8)
    axes = np.atleast_2d(axes).reshape(2, -1)
    for b in range(n_blocks):
        for row, (key, labels) in enumerate((("op", list(OPS)), ("digit", [str(d) for d in range(10)]))):
            width = len(means[key][b][0] or means["op"][b][0])
            data = as_floats([m if m is not None else [np.nan] * width for m in means[key][b]])  # (groups, d_ff)
            eta = as_floats(snaps[f"ffn_eta_{key}"][i][b])
            order = np.lexsort((-eta, np.nanargmax(data, axis=0)))  # by preferred group, most specific first
            image = axes[row, b].imshow(data[:, order], aspect="auto", cmap="viridis")
            axes[row, b].set_yticks(range(len(labels)), labels, fontsize=7)
            axes[row, b].grid(False)
            axes[row, b].set(xlabel="neuron (sorted by preferred group, then eta^2)",
                             title=f"block {b + 1}: mean FFN activation at the answer position by {key}")
            axes[row, b].title.set_fontsize(8)
            fig.colorbar(image, ax=axes[row, b])
    fig.suptitle("FFN neuron specialization, final model (seed 0)")
    return plots.save(fig, fig_dir, "td_ffn_specialization.png")


def _gradients(base: list[dict], fig_dir: Path) -> str:
    fig, ax = plots.figure(width=7)
    groups = [g for g in base[0]["curves"]["grad_abs"][-1] if g != "all"] + ["all"]
    epochs = base[0]["curves"]["epoch"]
    for g in groups:
        plots.line_with_band(ax, epochs, column(base, "grad_abs", lambda v, g=g: v[g]), label=g,
                             color="black" if g == "all" else None, scale=plots.NONNEGATIVE)
    ax.set(xlabel="epoch", ylabel="mean |gradient| over the epoch", yscale="log",
           title="Gradient magnitude by layer (source-document split baseline)")
    ax.legend(fontsize=6, ncol=2)
    return plots.save(fig, fig_dir, "td_gradients.png")


def _parameters(base: list[dict], fig_dir: Path) -> str:
    fig, axes = plots.figure(1, 3, width=4.6)
    epochs = base[0]["curves"]["epoch"]
    for g in base[0]["curves"]["param_change"][-1]:
        plots.line_with_band(axes[0], epochs, column(base, "param_change", lambda v, g=g: v[g]), label=g,
                             color="black" if g == "all" else None, scale=plots.NONNEGATIVE)
    axes[0].set(xlabel="epoch", ylabel="mean |change| over the epoch", yscale="log", title="Parameter change per epoch")
    axes[0].legend(fontsize=5, ncol=2)
    for name in base[0]["curves"]["tracked"][0]:
        plots.line_with_band(axes[1], epochs, column(base, "tracked", lambda v, n=name: v[n]), label=name,
                             scale=plots.UNBOUNDED)  # a weight
    axes[1].set(xlabel="epoch", ylabel="value", title="Tracked single parameters")
    axes[1].legend(fontsize=6)
    rows = as_floats(base[0]["curves"]["b_output"])  # (epochs, 20)
    for t in range(rows.shape[1]):
        axes[2].plot(epochs, rows[:, t], color=KIND_COLORS[_kind(VOCAB[t])], linewidth=1)
        axes[2].annotate(VOCAB[t], (epochs[-1], rows[-1, t]), fontsize=6)
    axes[2].set(xlabel="epoch", ylabel="b_output row", title="Output bias rows (seed 0; red ops, blue digits)")
    return plots.save(fig, fig_dir, "td_parameters.png")
