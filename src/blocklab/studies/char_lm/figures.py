"""Figures of the char-lm study, read from its results dict only: loss curves and samples."""
from __future__ import annotations

import textwrap

from blocklab.report import plots
from blocklab.report.results import finished_runs, per_seed

NANOGPT_VAL_LOSS = 1.88  # nanoGPT README, the CPU run of shakespeare_char after 2000 iterations


def char_lm_figures(results: dict, fig_dir) -> list[str]:
    cells = [c["name"] for c in results["cells"] if finished_runs(results, c["name"])]
    if not cells:
        return []
    fig, axes = plots.figure(1, len(cells))
    for ax, cell in zip([axes] if len(cells) == 1 else axes, cells):
        hist = list(per_seed(results, cell, "history").values())
        steps = [h["step"] for h in hist[0]]
        plots.line_with_band(ax, steps, [[h["train_loss"] for h in s] for s in hist], label="train (since last eval)",
                             scale=plots.LOSS)
        plots.line_with_band(ax, steps, [[h["val_loss"] for h in s] for s in hist], label="validation",
                             scale=plots.LOSS)
        if cell.startswith("shakespeare"):
            ax.axhline(NANOGPT_VAL_LOSS, color="gray", linestyle="--", linewidth=1, label="nanoGPT README: 1.88")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cross-entropy (nats per character)")
        ax.set_title(f"{cell} (mean, 95% CI over seeds)", fontsize=10)
        ax.legend(fontsize=8)
    names = [plots.save(fig, fig_dir, "char_lm_loss.png")]

    fig, axes = plots.figure(len(cells), 1, width=9, height=3)
    for ax, cell in zip([axes] if len(cells) == 1 else axes, cells):
        run = finished_runs(results, cell)[0]
        text = "\n".join(f"[{name}] " + _visible(sample) for name, sample in run["metrics"]["samples"].items())
        ax.axis("off")
        ax.set_title(f"{cell}, seed {run['seed']}: samples after a newline", fontsize=10, loc="left")
        ax.text(0, 1, text, va="top", ha="left", family="monospace", fontsize=6.5, transform=ax.transAxes)
    names.append(plots.save(fig, fig_dir, "char_lm_samples.png"))
    return names


def _visible(sample: str, width: int = 110, lines: int = 6) -> str:
    """A sample as at most `lines` wrapped lines, with its newlines shown as ⏎."""
    wrapped = textwrap.wrap(sample.replace("\n", "⏎"), width, replace_whitespace=False, drop_whitespace=False)
    return "\n    ".join(wrapped[:lines])
