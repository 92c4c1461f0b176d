"""Figures of the training-dynamics study: the sweeps, the headline recipe, and the two splits.

Every sweep changes one factor of the seed's recipe on the same budget; its reference is the
seed-split baseline at epoch `sweep_epochs` (the same run, as the lr is constant).
"""
from __future__ import annotations

from pathlib import Path

from blocklab.report import plots
from blocklab.report.results import config_value, finished_runs, per_seed, seed_values

from .claims import BASE, SPLIT_NAMES, curve_at


def _cells(results: dict, prefix: str) -> list[str]:
    return [c["name"] for c in results["cells"] if c["name"].startswith(prefix) and finished_runs(results, c["name"])]


def _reference(results: dict) -> list[float]:
    """baseline-seed's test accuracy at the sweep budget: the reference every sweep changes one factor of."""
    return curve_at(results, BASE, "test_acc", results["config"]["sweep_epochs"])


def figures(results: dict, fig_dir: Path) -> list[str]:
    names = []
    for prefix, title in (("optimizer-", "Optimizer"), ("lr-", "Learning rate (Adam)"), ("schedule-", "Schedule"),
                          ("batch-", "Batch size")):
        if _cells(results, prefix):
            names.append(_sweep_curves(results, prefix, title, fig_dir))
    for prefix, title, name in (("size-", "Training-set size", "td_sweep_size.png"),
                                ("ablate-", "Ablations of the source document's model", "td_ablations.png")):
        if _cells(results, prefix):
            names.append(_bars(results, prefix, title, name, fig_dir))
    if _cells(results, "headline-"):
        names.append(_headline(results, fig_dir))
    if _cells(results, "baseline-") or _cells(results, "headline-"):
        names.append(_splits(results, fig_dir))
    return names


def _sweep_curves(results: dict, prefix: str, title: str, fig_dir: Path) -> str:
    """Validation accuracy against examples seen, one line per setting, the baseline as reference."""
    fig, ax = plots.figure(width=6.5)
    budget = results["config"]["sweep_epochs"]
    base = list(per_seed(results, BASE, "record").values())
    if base:
        steps = [s for s in base[0]["checks"]["step"]]
        keep = [i for i, s in enumerate(steps) if s <= budget * base[0]["curves"]["step"][1]] if len(
            base[0]["curves"]["step"]) > 1 else []
        plots.line_with_band(ax, [steps[i] * config_value(results, "train.batch_size") for i in keep],
                             [[rec["checks"]["val_acc"][i] for i in keep] for rec in base],
                             label="source document's recipe (baseline)", color="black", scale=plots.ACCURACY)
    for cell in _cells(results, prefix):
        recs = [r["metrics"] for r in finished_runs(results, cell)]
        batch = recs[0]["batch_size"]
        plots.line_with_band(ax, [s * batch for s in recs[0]["record"]["checks"]["step"]],
                             [m["record"]["checks"]["val_acc"] for m in recs], label=cell.removeprefix(prefix),
                             scale=plots.ACCURACY)
    ax.set(xscale="symlog", xlabel="training examples seen", ylabel="validation accuracy (%)",
           title=f"{title}: one factor of the source document's recipe\nchanged, {budget} epochs' budget")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, f"td_sweep_{prefix.rstrip('-')}.png")


def _bars(results: dict, prefix: str, title: str, name: str, fig_dir: Path) -> str:
    cells = _cells(results, prefix)
    labels = ["full model" if prefix == "ablate-" else f"{results['config']['n_train']} (baseline)"] + [
        c.removeprefix(prefix) for c in cells]
    values = [_reference(results)] + [seed_values(results, c, "test_acc") for c in cells]
    fig, ax = plots.figure(width=7)
    plots.bars_with_ci(ax, labels, values, scale=plots.ACCURACY)
    ax.set(ylabel="test accuracy (%)", ylim=(0, 105),
           title=f"{title}\n({results['config']['sweep_epochs']} epochs' updates of the source document's recipe)")
    return plots.save(fig, fig_dir, name)


def _headline(results: dict, fig_dir: Path) -> str:
    fig, axes = plots.figure(1, 2, width=6)
    for cell in _cells(results, "headline-"):
        for m in (r["metrics"] for r in finished_runs(results, cell)):
            checks = m["record"]["checks"]
            axes[0].plot(checks["cpu_s"], checks["val_acc"], color="C0" if "-seed-" in cell else "C1", alpha=0.7,
                         linewidth=1)
    for level in (95, 99, 99.5):
        axes[0].axhline(level, color="gray", linestyle=":", linewidth=0.8)
    axes[0].set(xlabel="training CPU seconds (1 thread)", ylabel="validation accuracy (%)", ylim=(50, 100.5),
                title="Headline runs; blue: source-document split, orange: disjoint")
    labels, values = [], []
    for split in ("seed", "disjoint"):
        cells = [c for c in _cells(results, f"headline-{split}-")]
        for key, label in (("test_acc", "test acc (%)"), ("cpu_s", "CPU s"), ("time_to_95.cpu_s", "s to 95%"),
                           ("time_to_99.cpu_s", "s to 99%")):
            labels.append(f"{SPLIT_NAMES[split]}: {label}")
            values.append([v for c in cells for v in seed_values(results, c, key)])
    plots.bars_with_ci(axes[1], labels, values, scale=plots.NONNEGATIVE)  # accuracies and seconds
    axes[1].set(title="Headline: every run pooled, mean and 95% CI")
    return plots.save(fig, fig_dir, "td_headline.png")


def _splits(results: dict, fig_dir: Path) -> str:
    pairs = [("baseline", "baseline-seed", "baseline-disjoint")]
    pairs += [(f"headline r{j}", f"headline-seed-r{j}", f"headline-disjoint-r{j}")
              for j in range(results["config"]["headline_replicas"])]
    pairs += [(f"size {n}", f"size-{n}", f"size-{n}-disjoint") for n in results["config"]["size_disjoint"]]
    labels, values = [], []
    for name, seed_cell, disjoint_cell in pairs:
        for split, cell in (("seed", seed_cell), ("disjoint", disjoint_cell)):
            labels.append(f"{name}, {SPLIT_NAMES[split]}")
            values.append(seed_values(results, cell, "test_acc"))
    fig, ax = plots.figure(width=8)
    plots.bars_with_ci(ax, labels, values, scale=plots.ACCURACY)
    ax.set(ylabel="test accuracy (%)", ylim=(0, 105),
           title="Source-document split (test inputs mostly seen in training)\nvs disjoint split (never seen)")
    return plots.save(fig, fig_dir, "td_splits.png")
