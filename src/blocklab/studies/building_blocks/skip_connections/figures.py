"""The figures of study 45 (skip connections), drawn from its results.json alone."""
from __future__ import annotations

import math
import textwrap

import numpy as np

from blocklab.report import plots
from blocklab.report.results import per_seed, seed_values
from blocklab.studies.common.drawing import band, grid, log10, mean_log10, tag

from .config import INIT_LABEL, TURNS


def draw_all(results: dict, fig_dir) -> list[str]:
    cfg = results["config"]
    return [draw(results, cfg, fig_dir) for draw in
            (fig_training, fig_gradients, fig_highway, fig_dense, fig_concept, fig_failures)]


def fig_training(results, cfg, fig_dir):
    fig, axes = grid(1, len(cfg["inits"]))
    for ax, init in zip(axes[0], cfg["inits"]):
        for i, d in enumerate(cfg["depths"]):
            for kind in ("plain", "residual"):
                cell = f"{kind}-{d}-{init}"
                steps = max(list(per_seed(results, cell, "curve.step").values()) or [[]], key=len)
                band(ax, steps, list(per_seed(results, cell, "curve.val_acc").values()),
                     tag(results, cell, f"{kind}, {d} layers"), f"C{i}", kind == "plain", scale=plots.ACCURACY)
        ax.set(title=f"init {INIT_LABEL[init]}", xlabel="step", ylabel="validation accuracy (%)", ylim=(0, 102))
        ax.legend(fontsize=7)
    fig.suptitle("Spirals: plain vs residual (mean, 95% CI over seeds)")
    return plots.save(fig, fig_dir, "45_skip_connections_training.png")


def fig_gradients(results, cfg, fig_dir):
    fig, axes = grid(len(cfg["inits"]), 2)
    for row, init in zip(axes, cfg["inits"]):
        for i, d in enumerate(cfg["depths"]):
            for kind in ("plain", "residual"):
                cell = f"{kind}-{d}-{init}"
                at_init = log10(list(per_seed(results, cell, "grad_init").values()))
                during = [mean_log10(g) if g else [] for g in list(per_seed(results, cell, "grad_train").values())]
                for ax, curves in zip(row, (at_init, during)):
                    band(ax, np.arange(1, d // 2 + 1), curves, tag(results, cell, f"{kind}, {d} layers"), f"C{i}",
                         kind == "plain", scale=plots.UNBOUNDED)  # log10 of a norm
        for ax, when in zip(row, ("at init", "during training (mean of logs)")):
            ax.set(title=f"{INIT_LABEL[init]}: {when}", xlabel="block (1 = nearest the input)",
                   ylabel="log10 gradient norm")
        row[0].legend(fontsize=7)
    fig.suptitle("Gradient norm per block (a gradient that underflows to 0 has no log: its line ends)")
    return plots.save(fig, fig_dir, "45_skip_connections_gradients.png")


def fig_highway(results, cfg, fig_dir):
    fig, ax = plots.figure()
    for i, init in enumerate(cfg["inits"]):
        for kind in ("plain", "residual"):
            curves = [[log10(run["probe"][f"{kind}-{d}-{init}"]["first_grad"]) for d in cfg["probe_depths"]]
                      for run in list(per_seed(results, "init-gradients", "").values()) if run]
            band(ax, cfg["probe_depths"], curves, f"{kind}, {INIT_LABEL[init]}", f"C{i}", kind == "plain",
                 scale=plots.UNBOUNDED)  # log10 of a norm
    ax.set(title="Gradient reaching the first block at init\n(a line ends where it underflows to 0)",
           xlabel="layers (2 per block)",
           ylabel="log10 gradient norm, first block")
    ax.legend(fontsize=7)
    return plots.save(fig, fig_dir, "45_skip_connections_highway.png")


def fig_dense(results, cfg, fig_dir):
    d0 = cfg["depths"][0]
    fig, axes = grid(len(cfg["inits"]), 2, width=4)
    r = np.linspace(0, 1, 200)
    for row, init in zip(axes, cfg["inits"]):
        for ax, kind in zip(row, ("plain", "residual")):
            cell = f"{kind}-{d0}-{init}"
            grids = [g for g in list(per_seed(results, cell, "boundary").values()) if g]
            if grids:  # a diverged seed's grid holds nulls: the mean is over the finite values
                ax.imshow(plots.finite_mean(grids, axis=0), origin="lower", extent=(-1.2, 1.2, -1.2, 1.2),
                          cmap="coolwarm", vmin=0, vmax=1)
            for arm, color in ((0, "navy"), (1, "darkred")):
                angle = 2 * math.pi * TURNS * r + math.pi * arm
                ax.plot(r * np.cos(angle), r * np.sin(angle), color=color, linewidth=1)
            acc = seed_values(results, cell, "test_acc")
            ax.set(title=f"{tag(results, cell, f'{kind}, {d0} layers, {INIT_LABEL[init]}')}\n"
                   f"test acc {plots.finite_mean(acc):.1f}% (n={len(plots.finite(acc))})" if acc else cell,
                   xlabel="x", ylabel="y")
            ax.grid(False)
    fig.suptitle("Learned P(arm 1), mean over seeds; lines: the true spiral arms")
    return plots.save(fig, fig_dir, "45_skip_connections_dense.png")


def fig_concept(results, cfg, fig_dir):
    deep, d0 = cfg["probe_depths"][-1], cfg["depths"][0]
    fig, axes = plots.figure(1, 2)
    probes = [run for run in list(per_seed(results, "init-gradients", "").values()) if run]
    for i, init in enumerate(cfg["inits"]):
        for kind in ("plain", "residual"):
            curves = [log10(run["probe"][f"{kind}-{deep}-{init}"]["stream"]) for run in probes]
            band(axes[0], np.arange(1, max(1, deep // 2) + 1), curves, f"{kind}, {INIT_LABEL[init]}", f"C{i}",
                 kind == "plain", scale=plots.UNBOUNDED)  # log10 of an RMS
        for when in ("init", "final"):
            seeds = list(per_seed(results, f"residual-{d0}-{init}", f"skip_ratio_{when}").values())
            ratios = log10([v for v in seeds if v])
            band(axes[1], np.arange(1, d0 // 2 + 1), ratios, f"{'trained' if when == 'final' else 'at init'}, "
                 f"{INIT_LABEL[init]}", f"C{i}", when == "init", scale=plots.UNBOUNDED)  # log10 of a ratio
    axes[0].set(title=f"Forward signal at init, {deep} layers\n(a line ends where it underflows to 0)", xlabel="block",
                ylabel="log10 RMS of the stream")
    axes[1].axhline(0, color="gray", linewidth=0.8)
    axes[1].set(title=f"y = x + F(x) in the residual net, {d0} layers", xlabel="block",
                ylabel="log10 ||x|| / ||F(x)||  (>0: identity larger)")
    for ax in axes:
        ax.legend(fontsize=7)
    return plots.save(fig, fig_dir, "45_skip_connections_concept.png")


def fig_failures(results, cfg, fig_dir):
    d0, deep = cfg["depths"][0], cfg["depths"][-1]
    fig, axes = plots.figure(1, 3, width=5)
    labels, ratios, acc_labels, accs, diverged = [], [], [], [], []
    for init in cfg["inits"]:
        short = "0.02" if init == "default" else "He"
        scaled = [(f"x{s:g} {short}", f"scale={s:g}-{d0}-{init}") for s in cfg["failure_scales"]]
        unscaled = [(f"x1 {short}", f"residual-{d0}-{init}")]
        for label, cell in scaled[:1] + unscaled + scaled[1:]:
            labels.append(label)
            ratios.append(log10(seed_values(results, cell, "last_skip_ratio")))
        plain = [(f"no skip {d}L {short}", f"plain-{d}-{init}") for d in sorted({d0, deep})]
        for label, cell in scaled[:1] + unscaled + scaled[1:] + plain:
            acc_labels.append(label)
            accs.append(seed_values(results, cell, "test_acc"))
            if tag(results, cell, "") != "":
                diverged.append(tag(results, cell, label))
    plots.bars_with_ci(axes[0], labels, ratios, color="C1", scale=plots.UNBOUNDED)  # log10 of a ratio
    axes[0].axhline(0, color="gray", linewidth=0.8)
    axes[0].set(title=f"Skip vs branch, last block ({d0} layers)", ylabel="log10 ||scale x|| / ||F(x)||")
    plots.bars_with_ci(axes[1], acc_labels, accs, color="C0", scale=plots.ACCURACY)
    axes[1].axhline(50, color="gray", linestyle=":", linewidth=0.8)
    axes[1].set(title="Test accuracy (chance 50%)", ylabel="%", ylim=(0, 102))
    outcome = next((f"{m['error_type'] or 'no error'}: {m['message']}"
                    for m in list(per_seed(results, "mismatch", "").values()) if m), "(not run)")
    lines = textwrap.wrap(outcome, 46) + ["", "Diverged (a diverged run keeps the weights", "of its last good step):"]
    axes[2].axis("off")
    axes[2].set_title(f"add_residual(x: {cfg['d_model']} wide, F(x): {cfg['d_model'] // 2} wide)")
    axes[2].text(0, 0.95, "\n".join(lines + (diverged or ["none"])), va="top", family="monospace", fontsize=8)
    fig.suptitle("Skip-connection failure modes (bars: mean and 95% CI over seeds; dots: seeds)")
    return plots.save(fig, fig_dir, "45_skip_failures.png")
