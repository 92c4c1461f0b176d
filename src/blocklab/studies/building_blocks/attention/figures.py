"""The figures of study 47 (attention), drawn from its results.json alone."""
from __future__ import annotations

import math

import numpy as np

from blocklab.report import plots
from blocklab.report.results import finished_runs, per_seed, seed_values

from .config import SATURATION_DIM


def heatmap_row(axes, matrices, titles, labels, what: str = "") -> None:
    for ax, matrix, title in zip(axes, matrices, titles):
        plots.heatmap(ax, matrix, labels, labels, fmt="{:.2f}", colorbar=False)
        ax.set(title=title, xlabel=f"key {what}".strip(), ylabel=f"query {what}".strip())


def draw_all(results: dict, fig_dir) -> list[str]:
    cfg = results["config"]
    keys = ["CLS"] + [f"x{i}" for i in range(1, 6)]
    names = []

    fig, axes = plots.figure(1, 2)
    snaps = list(per_seed(results, "copy", "snapshots").values())
    for j, key in enumerate(keys):
        plots.line_with_band(axes[0], snaps[0]["steps"], [[v[0][j] for v in s["values"]] for s in snaps], label=key,
                             scale=plots.FRACTION)
    axes[0].set(xlabel="training step", ylabel="CLS query's attention weight", title="Where the CLS query looks")
    axes[0].legend(ncol=2, fontsize=8)
    hist = list(per_seed(results, "copy", "history").values())
    plots.line_with_band(axes[1], [0] + [h["step"] for h in hist[0]],
                         [[a] + [None if h["val_acc"] is None else 100 * h["val_acc"] for h in s]
                          for a, s in zip(seed_values(results, "copy", "init_acc"), hist)], scale=plots.ACCURACY)
    axes[1].axhline(100 / 5, color="gray", linestyle="--", label="chance (20%)")
    axes[1].set(xlabel="training step", ylabel="validation accuracy (%)", title="Copy-first-token accuracy")
    axes[1].legend()
    fig.suptitle("Attention learns to focus (one head, mean and 95% CI over seeds)")
    names.append(plots.save(fig, fig_dir, "47_attention_learned.png"))

    mech = list(per_seed(results, "copy", "mechanism").values())
    labels = ["CLS"] + [f"x{i + 1}={t}" for i, t in enumerate(mech[0]["tokens"])]
    fig, axes = plots.figure(1, 3, width=4.6)
    plots.heatmap(axes[0], mech[0]["scores"][0], labels, labels, fmt="{:.1f}", cmap="coolwarm")
    axes[0].set(title="Scaled scores q·k/√d (seed 0)", xlabel="key (token)", ylabel="query")
    plots.heatmap(axes[1], mech[0]["weights"][0], labels, labels, fmt="{:.2f}")
    axes[1].set(title="Weights: softmax of each row (seed 0)", xlabel="key (token)")
    plots.bars_with_ci(axes[2], [f"class {c}" for c in range(5)],
                       [[m["probs"][c] for m in mech] for c in range(5)], scale=plots.FRACTION)
    axes[2].set(ylabel="probability", title="Output: class probabilities (all seeds)")
    names.append(plots.save(fig, fig_dir, "47_attention_mechanism.png"))

    heads = f"copy-heads{cfg['multi_heads']}"
    patterns = list(per_seed(results, heads, "pattern").values())
    fig, axes = plots.figure(1, len(patterns[0]) + 1, width=3.6)
    heatmap_row(axes, patterns[0], [f"head {h + 1} (seed 0)" for h in range(len(patterns[0]))], keys)
    ranked = [sorted(plots.as_floats([p[0][1] for p in seeds]), reverse=True) for seeds in patterns]
    plots.bars_with_ci(axes[-1], [f"#{r + 1}" for r in range(len(ranked[0]))], list(zip(*ranked)), scale=plots.FRACTION)
    axes[-1].set(xlabel="head, ranked", ylabel="CLS weight on x1", title="Focus per head (all seeds)")
    names.append(plots.save(fig, fig_dir, "47_attention_multihead.png"))

    panels = [("at init", "copy", "init_pattern"), ("trained", "copy", "pattern"),
              ("no 1/√d", "copy-noscale", "pattern")]
    panels += [(f"temperature {t:g}", f"copy-temp{t:g}", "pattern") for t in cfg["temperatures"]]
    matrices = [plots.finite_mean([p[0] for p in list(per_seed(results, cell, key).values())], axis=0)
                for _, cell, key in panels]
    same_qk = list(per_seed(results, "copy", "same_qk").values())
    matrices.append(plots.finite_mean([s["pattern"][0] for s in same_qk], axis=0))
    fig, axes = plots.figure(1, len(panels) + 1, width=3.4)
    heatmap_row(axes, matrices, [title for title, _, _ in panels] + ["trained, identical Q and K"], keys)
    fig.suptitle("Attention patterns on the probe batch (rows: queries; mean over probe inputs and seeds)")
    names.append(plots.save(fig, fig_dir, "47_attention_patterns.png"))

    runs = [r["metrics"] for r in finished_runs(results, "scaling")]
    fig, axes = plots.figure(1, 3, width=4.4)
    for ax, key, ylabel, scale in zip(axes, ("entropy", "max_weight", "grad_norm"),
                                      ("softmax entropy (nats)", "largest weight", "‖∂L/∂scores‖ per query"),
                                      (plots.NONNEGATIVE, plots.FRACTION, plots.NONNEGATIVE)):
        for name in ("scaled", "unscaled"):
            plots.line_with_band(ax, runs[0]["head_dims"], [r[name][key] for r in runs],
                                 label="q·k/√d" if name == "scaled" else "q·k (no scaling)", scale=scale)
        ax.set(xscale="log", xlabel="head dim d", ylabel=ylabel)
    axes[0].axhline(math.log(cfg["n_keys"]), color="gray", linestyle="--", label="uniform")
    axes[2].set_yscale("log")
    axes[0].legend()
    fig.suptitle(f"Random unit-variance q, k over {cfg['n_keys']} keys: without 1/√d the softmax saturates")
    names.append(plots.save(fig, fig_dir, "47_attention_scaling.png"))

    kinds = {"encoder_self": "encoder self-attention", "decoder_self": "decoder self-attention (causal)",
             "cross": "cross-attention (decoder -> encoder)"}
    matrices = [plots.finite_mean([p[k] for p in list(per_seed(results, "self-cross", "patterns").values())], axis=0)
                for k in kinds]
    fig, axes = plots.figure(1, 3, width=4.4)
    heatmap_row(axes, matrices, list(kinds.values()), [str(i + 1) for i in range(len(matrices[0]))], "position")
    acc = seed_values(results, "self-cross", "seq_acc")
    fig.suptitle(f"Seq2Seq reversing 6 tokens (exact-sequence accuracy {plots.finite_mean(acc):.0f}%; mean over seeds)")
    names.append(plots.save(fig, fig_dir, "47_attention_self_cross.png"))
    names.append(failures(results, fig_dir))
    return names

def failures(results: dict, fig_dir) -> str:
    cfg = results["config"]
    fig, axes = plots.figure(2, 3, width=4.4)
    runs = [r["metrics"] for r in finished_runs(results, "scaling")]
    i = runs[0]["head_dims"].index(SATURATION_DIM) if SATURATION_DIM in runs[0]["head_dims"] else -1
    for ax, key, ylabel, scale in ((axes[0, 0], "max_weight", "largest softmax weight", plots.FRACTION),
                                   (axes[0, 1], "grad_norm", "‖∂L/∂scores‖ per query", plots.NONNEGATIVE)):
        plots.bars_with_ci(ax, ["q·k/√d", "no scaling"], [[r[n][key][i] for r in runs] for n in ("scaled", "unscaled")],
                           scale=scale)
        ax.set(ylabel=ylabel, title=f"No √d scaling, d = {runs[0]['head_dims'][i]}")
    mem = [r["metrics"] for r in finished_runs(results, "memory")]
    lens = np.array(mem[0]["seq_lens"], dtype=float)
    for ax, key, ylabel in ((axes[0, 2], "peak_bytes", "peak memory (MiB)"), (axes[1, 0], "seconds", "time (s)")):
        unit = 2**20 if key == "peak_bytes" else 1
        for path in ("explicit", "fused"):
            plots.line_with_band(ax, lens, plots.as_floats([m[path][key] for m in mem]) / unit, label=path,
                                 scale=plots.NONNEGATIVE)
        top = plots.finite_mean([m["explicit"][key][-1] for m in mem]) / unit
        ax.plot(lens, top * (lens / lens[-1]) ** 2, "k:", label="∝ T² (guide)")
        ax.set_xscale("log", base=2)
        ax.set(yscale="log", xticks=lens, xticklabels=[str(int(t)) for t in lens], xlabel="sequence length T",
               ylabel=ylabel, title=f"Too long: {ylabel.split(' (')[0]} of one forward")
        ax.legend()
    same = list(per_seed(results, "copy", "same_qk").values())
    plots.bars_with_ci(axes[1, 1], ["learned Q, K", "identical Q, K"],
                       [[e / math.log(6) for e in seed_values(results, "copy", "cls_entropy")],
                        [s["entropy_ratio"] for s in same]], scale=plots.NONNEGATIVE)
    axes[1, 1].set(ylabel="CLS entropy / ln 6 (1 = uniform)",
                   title=f"Same Q/K: accuracy {plots.finite_mean(seed_values(results, 'copy', 'acc')):.0f}% -> "
                         f"{plots.finite_mean([s['acc'] for s in same]):.0f}%")
    temps = [(f"T={t:g}", f"copy-temp{t:g}") for t in sorted([*cfg["temperatures"], 1.0])]
    temps = [(label, "copy" if label == "T=1" else cell) for label, cell in temps]
    plots.bars_with_ci(axes[1, 2],
                       [f"{label}\n{plots.finite_mean(seed_values(results, c, 'acc')):.0f}% acc" for label, c in temps],
                       [seed_values(results, c, "cls_entropy") for _, c in temps], scale=plots.NONNEGATIVE)
    axes[1, 2].set(ylabel="trained CLS entropy (nats)", title="Temperature vs trained focus")
    fig.suptitle("Attention failure modes (95% CI over seeds, dots are seeds)")
    return plots.save(fig, fig_dir, "47_attention_failures.png")
