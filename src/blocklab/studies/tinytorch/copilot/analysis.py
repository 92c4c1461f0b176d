"""The Copilot study's claims and figures, read from results.json only (see study.py)."""
from __future__ import annotations

import numpy as np

from blocklab.report import plots
from blocklab.report.results import per_seed
from blocklab.report.verdicts import Measurement, around, at_least, at_most, between, ill_posed
from blocklab.tasks.python_code import DEMOS

SEED_STEPS = 75  # the seed's run: 180 s at its 2.4 s per step
SEED_STEP_MS = 2400


def _at(m: dict, step: int) -> dict | None:
    return next((c for c in m["checkpoints"] if c["step"] == step), None)


def copilot_measurements(results: dict) -> list[Measurement]:
    runs = list(per_seed(results, "copilot").values())
    bench = [m["bench"] for m in runs]
    out = [
        Measurement("C004-02", "4.61", [m["loss_initial"] for m in runs], "nats", around(4.61, 0.1),
                    part="initial loss",
                    note="training loss of step 1, before any update; chance is ln(vocabulary size)"),
        Measurement("C004-03", "2.4 s/step", [b["numpy_step_ms"] for b in bench], "ms", around(SEED_STEP_MS, 600),
                    part="Copilot step time, numpy engine",
                    note="bench_engine('copilot'): the source document's 33,472-parameter config, batch 32, "
                         "one thread"),
        Measurement("C004-03", "140-240x", [b["step_ratio_vs_torch"] for b in bench], "x", between(140, 240),
                    part="Copilot step time, numpy engine / PyTorch",
                    note="same bench: blocklab.nn's GPT on torch CPU, same weights and batch, timed alternately"),
    ]
    diverged = sum(bool(m.get("diverged")) for m in runs)
    runs = [m for m in runs if not m.get("diverged")]  # a diverged seed's checkpoints stop short: left out
    if not runs or any(_at(m, SEED_STEPS) is None for m in runs):
        reason = f"the run has no checkpoint at step {SEED_STEPS}, the source document's 180 s at 2.4 s/step" \
            if runs else \
            f"every seed diverged ({diverged})"
        return out + [ill_posed(c, "", reason) for c in ("C004-02", "C004-04")]
    seed_run = [_at(m, SEED_STEPS) for m in runs]
    final = [m["checkpoints"][-1] for m in runs]
    last_step = final[0]["step"]
    left_out = f"; {diverged} diverged seeds left out" if diverged else ""

    def decoding(points: list[dict], strategy: str, key: str) -> np.ndarray:
        return np.array([p["decoding"][strategy][key] for p in points])

    greedy_final = decoding(final, "greedy", "exact")
    out += [
        Measurement("C004-02", "~1.9", [p["val_loss"] for p in seed_run], "nats", around(1.9, 0.2),
                    part=f"loss after {SEED_STEPS} steps (the source document's 180 s)",
                    note="validation loss per character on held-out stdlib files" + left_out),
        Measurement("C004-02", "1 of 5", decoding(seed_run, "greedy", "demos_nonempty"), "demos", around(1, 0.5),
                    part=f"demos right after {SEED_STEPS} steps, the source document's test",
                    note="greedy; right = the completed line is not blank" + left_out),
        Measurement("C004-02", "1 of 5", decoding(seed_run, "greedy", "demos_valid"), "demos", around(1, 0.5),
                    part=f"demos right after {SEED_STEPS} steps, valid Python",
                    note="greedy; right = the line is closed and the snippet compiles" + left_out),
        Measurement("C004-04", "generation poor", decoding(seed_run, "greedy", "exact"), "%", at_most(10),
                    part=f"greedy exact match after {SEED_STEPS} steps",
                    note="held-out line completions (the rest of a line from its middle) reproduced exactly"
                         + left_out),
        Measurement("C004-04", "more steps would fix it", greedy_final - decoding(seed_run, "greedy", "exact"),
                    "points", at_least(10), part=f"greedy exact match gain, step {SEED_STEPS} -> {last_step}",
                    note="'fixed' taken as at least 10 points more lines completed exactly" + left_out),
    ]
    for strategy in ("temperature", "top_k"):
        out.append(Measurement(
            "C004-04", "sampling would fix it", decoding(final, strategy, "exact") - greedy_final, "points",
            at_least(5), part=f"{strategy} minus greedy, exact match at step {last_step}",
            note="'fixed' taken as at least 5 points more exact line completions than greedy decoding" + left_out))
    return out


def copilot_figures(results: dict, fig_dir) -> list[str]:
    """The checkpoint figures show the seeds that reached a checkpoint (a diverged seed's stop where it diverged);
    when none did, only the loss and speed figures are drawn."""
    runs = list(per_seed(results, "copilot").values())
    if not runs:
        return []
    reached = [m for m in runs if m["checkpoints"]]
    checkpoint_figures = [_decoding(reached, fig_dir), _failure_modes(reached, fig_dir),
                          _samples(reached, fig_dir)] if reached else []
    return [_loss(runs, fig_dir), *checkpoint_figures, _speed(runs, fig_dir)]


def _steps(runs: list[dict]) -> list[int]:
    return [c["step"] for c in max((m["checkpoints"] for m in runs), key=len)]


def _per_checkpoint(runs: list[dict], get) -> list[list[float]]:
    return [[get(c) for c in m["checkpoints"]] for m in runs]


def _loss(runs: list[dict], fig_dir) -> str:
    fig, ax = plots.figure(width=6.5)
    steps = [s for s, _ in max((m["loss_curve"] for m in runs), key=len)]
    plots.line_with_band(ax, steps, [[loss for _, loss in m["loss_curve"]] for m in runs], label="training (batch)",
                         scale=plots.LOSS)
    plots.line_with_band(ax, _steps(runs), _per_checkpoint(runs, lambda c: c["val_loss"]),
                         label="validation (held-out files)", scale=plots.LOSS)
    ax.plot([1, SEED_STEPS], [4.61, 1.9], "rv", label="source document: 4.61 -> ~1.9 in 180 s (75 steps)")
    diverged = [m["diverged_at"] for m in runs if m.get("diverged")]
    shown = f"; {len(diverged)} of {len(runs)} seeds diverged (at step {min(diverged)}+)" if diverged else ""
    ax.set(xscale="log", xlabel="step", ylabel="loss (nats per character)",
           title=f"Copilot: loss ({runs[0]['parameters']:,} parameters, stdlib source{shown})")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "004_copilot_loss.png")


def _decoding(runs: list[dict], fig_dir) -> str:
    fig, axes = plots.figure(1, 3, width=4.6)
    steps, strategies = _steps(runs), list(runs[0]["checkpoints"][0]["decoding"])
    plots.line_with_band(axes[0], steps, _per_checkpoint(runs, lambda c: c["val_bits_per_char"]), color="black",
                         scale=plots.LOSS)
    axes[0].set(xscale="log", xlabel="step", ylabel="bits per character", title="Validation loss falls")
    for ax, key, label in ((axes[1], "exact", "exact match (%)"), (axes[2], "prefix", "target reproduced (%)")):
        for s in strategies:
            plots.line_with_band(ax, steps, _per_checkpoint(runs, lambda c: c["decoding"][s][key]), label=s,
                                 scale=plots.ACCURACY)
        ax.set(xscale="log", xlabel="step", ylabel=label, title=f"Held-out line completions: {key}")
    axes[1].legend(fontsize=8)
    return plots.save(fig, fig_dir, "004_copilot_decoding.png")


def _failure_modes(runs: list[dict], fig_dir) -> str:
    """The seed's symptoms per strategy: blank or repetitive demo completions, and valid ones."""
    fig, axes = plots.figure(1, 3, width=4.6)
    steps, strategies = _steps(runs), list(runs[0]["checkpoints"][0]["decoding"])
    panels = (("demos_nonempty", "blank completions", lambda v: len(DEMOS) - v),
              ("demos_repetitive", "repetitive completions", lambda v: v),
              ("demos_valid", "valid Python lines", lambda v: v))
    for ax, (key, title, f) in zip(axes, panels):
        for s in strategies:
            plots.line_with_band(ax, steps, _per_checkpoint(runs, lambda c: f(c["decoding"][s][key])), label=s,
                                 scale=plots.Scale("", 0.0, len(DEMOS)))
        ax.set(xscale="log", xlabel="step", ylabel=f"demos (of {len(DEMOS)})", ylim=(-0.3, len(DEMOS) + 0.3),
               title=f"Demos: {title}")
    axes[0].legend(fontsize=8)
    return plots.save(fig, fig_dir, "004_copilot_failure_modes.png")


def _samples(runs: list[dict], fig_dir) -> str:
    """Seed 0's demo completions at the first and last checkpoints, per strategy, as a table."""
    points = [runs[0]["checkpoints"][0], runs[0]["checkpoints"][-1]]
    strategies = list(points[0]["samples"])
    rows = [[f"step {p['step']}", demo.replace("\n", "⏎")[-26:]] + [repr(p["samples"][s]["demos"][i])[:34]
                                                                  for s in strategies]
            for p in points for i, demo in enumerate(DEMOS)]
    fig, ax = plots.figure(width=16, height=0.42 * len(rows) + 1)
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=["checkpoint", "prompt (end)", *strategies], loc="center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.4)
    ax.set_title("Copilot: the source document's demos, completed to the end of the line (seed 0)")
    return plots.save(fig, fig_dir, "004_copilot_samples.png")


def _speed(runs: list[dict], fig_dir) -> str:
    fig, ax = plots.figure(width=6.5)
    names = ("numpy", "torch", "torch_fused")
    labels = [f"{n}\n{phase}" for phase in ("forward", "step") for n in names]
    values = [[m["bench"][f"{n}_{phase}_ms"] for m in runs] for phase in ("forward", "step") for n in names]
    plots.bars_with_ci(ax, labels, values, scale=plots.NONNEGATIVE)
    ax.axhline(SEED_STEP_MS, color="red", linestyle="--", label="source document's TinyTorch step: 2,400 ms")
    ax.set(yscale="log", ylabel="ms (median of repeats)",
           title="Copilot config: numpy engine vs PyTorch (CPU, 1 thread)")
    ax.legend(fontsize=8)
    return plots.save(fig, fig_dir, "004_copilot_speed.png")
