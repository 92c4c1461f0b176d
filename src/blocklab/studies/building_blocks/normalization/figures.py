"""The figures of study 46 (normalization), drawn from its results.json alone."""
from __future__ import annotations

import math
import textwrap

import numpy as np

from blocklab.report import plots
from blocklab.report.results import config_value, per_seed, seed_values
from blocklab.studies.common.drawing import band, grid, log10, mean_log10, tag

from .config import LABEL, MAIN_BATCH


def draw_all(results: dict, fig_dir) -> list[str]:
    cfg = results["config"]
    return [draw(results, cfg, fig_dir) for draw in (fig_training, fig_batch_training, fig_types,
                                                      fig_distributions, fig_comparison, fig_batch_size,
                                                      fig_failures)]


def curves(results: dict, cell: str, y: str, x: str) -> tuple[list, list]:
    """The longest x axis among a cell's seeds, and every seed's y curve."""
    return max(list(per_seed(results, cell, x).values()) or [[]], key=len), list(per_seed(results, cell, y).values())


def mean_text(values: list[float], fmt: str) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return format(float(np.mean(finite)), fmt) if finite else "n/a"


def log_y(ax) -> None:
    """A log y axis, when something positive was drawn (matplotlib refuses one otherwise)."""
    ys = [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
    if any((y[np.isfinite(y)] > 0).any() for y in ys):
        ax.set_yscale("log")


def fig_training(results, cfg, fig_dir):
    main_lr = config_value(results, "train.lr")
    fig, axes = plots.figure(1, 2)
    for i, norm in enumerate(cfg["norms"]):
        cell = f"{norm}-b{MAIN_BATCH}"
        band(axes[0], *curves(results, cell, "loss", "loss_steps"), tag(results, cell, LABEL[norm]), f"C{i}",
             scale=plots.LOSS)
    for i, norm in enumerate(("none", "layer")):
        for cell, lr in ((f"{norm}-b{MAIN_BATCH}", main_lr), (f"{norm}-lr{cfg['high_lr']:g}", cfg["high_lr"])):
            label = tag(results, cell, f"{LABEL[norm]}, lr {lr:g}")
            band(axes[1], *curves(results, cell, "loss", "loss_steps"), label, f"C{i * 2}", lr != main_lr,
                 scale=plots.LOSS)
    axes[0].set(title=f"Norm types, batch {MAIN_BATCH}, lr {main_lr:g}")
    axes[1].set(title="Learning-rate sweep (a diverged run's curve stops)")
    log_y(axes[1])
    for ax in axes:
        ax.set(xlabel="step", ylabel="training loss (nats)")
        ax.legend(fontsize=7)
    return plots.save(fig, fig_dir, "46_normalization_training.png")


def fig_batch_training(results, cfg, fig_dir):
    fig, axes = grid(1, len(cfg["batch_sizes"]), width=4)
    for ax, b in zip(axes[0], cfg["batch_sizes"]):
        for i, norm in enumerate(("batch", "layer")):
            band(ax, *curves(results, f"{norm}-b{b}", "loss", "loss_steps"), LABEL[norm], f"C{i + 1}", scale=plots.LOSS)
        ax.set(title=f"batch {b}", xlabel="step", ylabel="training loss (nats)")
        ax.legend(fontsize=7)
    fig.suptitle("BatchNorm vs LayerNorm by batch size (mean, 95% CI over seeds)")
    return plots.save(fig, fig_dir, "46_normalization_batch_training.png")


def fig_types(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 2)
    cells = [f"{n}-b{MAIN_BATCH}" for n in cfg["norms"]]
    labels = [f"{LABEL[n]}\n{mean_text(seed_values(results, c, 'diverged_pct'), '.0f')}% diverged"
              for n, c in zip(cfg["norms"], cells)]
    plots.bars_with_ci(axes[0], labels, [seed_values(results, c, "test_acc") for c in cells], scale=plots.ACCURACY)
    axes[0].axhline(10, color="gray", linestyle=":", linewidth=0.8)
    axes[0].set(title="Test accuracy (chance 10%)", ylabel="%", ylim=(0, 102))
    plots.bars_with_ci(axes[1], labels, [seed_values(results, c, "loss_spread") for c in cells], color="C1",
                       scale=plots.NONNEGATIVE)
    axes[1].set(title="Loss spread, second half of training", ylabel="std of detrended loss (nats)")
    fig.suptitle(f"Norm types on lookup, batch {MAIN_BATCH}, lr {config_value(results, 'train.lr'):g}")
    return plots.save(fig, fig_dir, "46_normalization_types.png")


def fig_distributions(results, cfg, fig_dir):
    fig, axes = grid(len(cfg["norms"]), 2, width=4.5, height=2.8)
    for row, norm in zip(axes, cfg["norms"]):
        for ax, when in zip(row, ("init", "final")):
            runs = [r for r in list(per_seed(results, f"{norm}-b{MAIN_BATCH}", f"dist_{when}").values()) if r]
            for k, layer in enumerate(runs[0] if runs else []):
                stds = plots.finite([run[k]["std"] for run in runs])  # a diverged seed's std is null
                spread = f"std {np.mean(stds):.3g} (seeds {min(stds):.2g}-{max(stds):.2g})" if stds else "std n/a"
                skipped = len(runs) - len(stds)
                label = f"block {k + 1}: {spread}" + (f"; {skipped} seed(s) not finite" if skipped else "")
                edges = plots.as_floats(layer["edges"])
                if np.isfinite(edges).all():
                    ax.stairs(plots.as_floats(layer["density"]), edges, color=f"C{k}", label=label)
                else:
                    ax.plot([], [], color=f"C{k}", label=label)
            ax.set_yscale("log")
            ax.set(title=f"{LABEL[norm]}, {'at init' if when == 'init' else 'trained'}", xlabel="hook_resid_post value",
                   ylabel="density")
            ax.legend(fontsize=6)
    fig.suptitle("Block outputs on 256 test sequences (histograms: first seed; std: all seeds)")
    return plots.save(fig, fig_dir, "46_normalization_distributions.png")


def fig_comparison(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 3, width=4.5)
    cells = {"pre": f"layer-b{MAIN_BATCH}", "post": f"layer-post-b{MAIN_BATCH}"}
    blocks = np.arange(1, cfg["n_layers"] + 1)
    for i, (pos, cell) in enumerate(cells.items()):
        band(axes[0], blocks, log10(list(per_seed(results, cell, "grad_init").values())), f"{pos}-norm", f"C{i}",
             scale=plots.UNBOUNDED)  # log10 of a norm
        during = [mean_log10(g) if g else [] for g in list(per_seed(results, cell, "grad_train").values())]
        band(axes[1], blocks, during, f"{pos}-norm", f"C{i}", scale=plots.UNBOUNDED)
    labels = [f"{pos} {when}" for when in ("init", "train") for pos in cells]
    plots.bars_with_ci(axes[2], labels, [seed_values(results, cells[lab.split()[0]], f"flow_{lab.split()[1]}")
                                         for lab in labels], color="C2", scale=plots.NONNEGATIVE)
    axes[0].set(title="Gradient per block at init", xlabel="block", ylabel="log10 gradient norm")
    axes[1].set(title="During training (mean of logs)", xlabel="block", ylabel="log10 gradient norm")
    axes[2].set(title="Imbalance |log10(first / last)|", ylabel="0 = even flow")
    for ax in axes[:2]:
        ax.set_xticks(blocks)
        ax.legend(fontsize=7)
    fig.suptitle(f"Pre-norm vs post-norm LayerNorm, batch {MAIN_BATCH}")
    return plots.save(fig, fig_dir, "46_normalization_comparison.png")


def fig_batch_size(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 2)
    sizes = cfg["batch_sizes"]
    for i, norm in enumerate(("batch", "layer")):
        for ax, metric in zip(axes, ("loss_spread", "test_acc")):
            per_size = {b: seed_values(results, f"{norm}-b{b}", metric) for b in sizes}
            per_size = {b: v for b, v in per_size.items() if v}
            n = min(map(len, per_size.values()), default=0)
            band(ax, list(per_size), [[v[s] for v in per_size.values()] for s in range(n)], LABEL[norm], f"C{i + 1}",
                 scale=plots.NONNEGATIVE if metric == "loss_spread" else plots.ACCURACY)
    axes[0].set(title="Loss spread, second half of training", ylabel="std of detrended loss (nats)")
    log_y(axes[0])
    axes[1].set(title="Test accuracy (chance 10%)", ylabel="%", ylim=(0, 102))
    for ax in axes:
        ax.set(xscale="log", xlabel="batch size", xlim=(min(sizes) / 1.5, max(sizes) * 1.5))  # also with no data
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.legend(fontsize=7)
    fig.suptitle(f"Batch size, {config_value(results, 'train.steps')} steps each")
    return plots.save(fig, fig_dir, "46_normalization_batch_size.png")


def fig_failures(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 3, width=4.8)
    short = {"layer": "LN", "rms": "RMS", "batch": "BN"}
    keys = [(n, e, inp) for n in short for e, inp in (("0", "zeroed"), ("1e-05", "zeroed"), ("0", "ordinary"))]
    plots.bars_with_ci(axes[0], [f"{short[n]} eps {e} {inp}" for n, e, inp in keys],
                       [seed_values(results, "probes", f"nan_pct.{n}-eps{e}-{inp}") for n, e, inp in keys], color="C3",
                       scale=plots.PERCENT)
    axes[0].set(title="NaN logits at init (zeroed: position 0's input is 0)", ylabel="% of sequences", ylim=(0, 105))
    pairs = [(n, mode) for n in ("batch", "layer") for mode in ("train", "eval")]
    plots.bars_with_ci(axes[1], [f"{LABEL[n]}\n{mode} mode" for n, mode in pairs],
                       [seed_values(results, f"{n}-b{MAIN_BATCH}", f"batchmates_{mode}") for n, mode in pairs],
                       color="C4", scale=plots.NONNEGATIVE)
    axes[1].set(title="Wrong axis: one sequence's logits vs its batch-mates", ylabel="% change of the logits")
    message = next((m for m in list(per_seed(results, "probes", "bn1_message").values()) if m), "(not run)")
    trained = seed_values(results, "batch-b1", "test_acc")
    lines = textwrap.wrap("batch 1 x time 1 -> " + message, 46) + ["", "batch 1 x time 9 (statistics over 9",
             f"positions) trains: test acc {mean_text(trained, '.1f')}%", f"(batch {MAIN_BATCH}: "
             f"{mean_text(seed_values(results, f'batch-b{MAIN_BATCH}', 'test_acc'), '.1f')}%)"]
    axes[2].axis("off")
    axes[2].set_title("BatchNorm on batch 1")
    axes[2].text(0, 0.95, "\n".join(lines), va="top", family="monospace", fontsize=7)
    fig.suptitle("Normalization failure modes")
    return plots.save(fig, fig_dir, "46_norm_failures.png")
