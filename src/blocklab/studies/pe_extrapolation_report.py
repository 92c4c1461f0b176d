"""What the length-extrapolation study (pe_extrapolation.py) makes of its results: the
extrapolation_results.json summary, the figures and the measured claims. Everything here
reads only the results dict, so `blocklab plot` and a rerun redraw it without training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write_text
from ..report import plots
from ..report.results import dumps, finished_runs, seed_values
from ..report.stats import mean_ci
from ..report.verdicts import Measurement, around, at_least, at_most

SEED_FIGURES = ("extrapolation_curves.png", "learned_position_embeddings.png", "position_similarity.png",
                "first_layer_attention.png", "pe_failure_modes.png")


# ---------------------------------------------------------------------------- reading results
def label(params: dict) -> str:
    name = params["encoding"] + {"learned": " (clamp)", "none": " (causal mask)"}.get(params["encoding"], "")
    if params["arch"] == "encoder":
        name = f"{params['encoding']} (encoder, no mask)"
    return name + (", randomized" if params["randomized"] else "")


def task_cells(results: dict, task: str) -> list[dict]:
    """The cells of one task that have finished seeds."""
    return [c for c in results["cells"] if c["params"]["task"] == task and finished_runs(results, c["name"])]


def tasks(results: dict) -> list[str]:
    return list(dict.fromkeys(c["params"]["task"] for c in results["cells"]))


def lengths(results: dict, cell: str) -> list[int]:
    return sorted(map(int, finished_runs(results, cell)[0]["metrics"]["acc"]))


def beyond(results: dict, cell: str) -> list[int]:
    """Test lengths past training, up to 256: the range the seed tabulates (32-256)."""
    longest = max(results["config"]["train_lengths"])
    return [n for n in lengths(results, cell) if longest < n <= 256]


def mean_over(results: dict, cell: str, names: list[int]) -> list[float]:
    """Per seed, the mean accuracy over test lengths `names`."""
    per_length = np.array([seed_values(results, cell, f"acc.{n}") for n in names])  # (lengths, seeds)
    return per_length.mean(axis=0).tolist()


def cell_named(results: dict, task: str, encoding: str, arch: str = "gpt") -> str | None:
    for c in results["cells"]:
        p = c["params"]
        if (p["task"], p["encoding"], p["arch"], p["randomized"]) == (task, encoding, arch, False):
            return c["name"] if finished_runs(results, c["name"]) else None
    return None


def first_metric(results: dict, cell: str, key: str):
    return finished_runs(results, cell)[0]["metrics"][key]


# ---------------------------------------------------------------------------- the JSON summary
def write_extrapolation_json(results: dict, path: Path) -> None:
    """Accuracy by length per task and cell (mean, 95% CI, per seed), from results only."""
    summary = {"study": results["study"], "command": results["command"], "seeds": results["seeds"],
               "train_lengths": results["config"]["train_lengths"],
               "architecture": {"gpt": "causal GPT, answer read after the last real token",
                                "encoder": "encoder, no mask, mean pooling"},
               "tasks": {}}
    for task in tasks(results):
        entries = {}
        for c in task_cells(results, task):
            name, p = c["name"], c["params"]
            entry = {"label": label(p), **p, "chance": first_metric(results, name, "chance"),
                     "in_distribution": mean_ci(seed_values(results, name, "in_dist_acc")).to_dict(),
                     "accuracy_by_length": {}}
            for n in lengths(results, name):
                values = seed_values(results, name, f"acc.{n}")
                entry["accuracy_by_length"][str(n)] = {**mean_ci(values).to_dict(), "per_seed": values}
            if p["encoding"] == "learned":
                policy = first_metric(results, name, "error_policy")
                entry["error_policy"] = {n: (msg.split(";")[0] if msg else "ok") for n, msg in policy.items()}
            entries[name] = entry
        summary["tasks"][task] = entries
    atomic_write_text(path, dumps(summary))  # number lists on one line, as in results.json


# ---------------------------------------------------------------------------- figures
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
            intervals = [mean_ci(seed_values(results, c["name"], f"acc.{n}")) for n in xs]
            mean = np.array([v.mean for v in intervals])
            err = np.array([[0, 0] if v.low is None else [v.mean - v.low, v.high - v.mean] for v in intervals]).T
            shift = 2 ** (0.06 * (i - (len(cells) - 1) / 2))  # side by side, so the error bars do not hide each other
            ax.errorbar(xs * shift, mean, yerr=np.clip(err, 0, None), marker="o", markersize=3, capsize=2,
                        linewidth=1.4, label=label(c["params"]))
            if c["params"]["encoding"] == "learned":
                past = [n for n, msg in first_metric(results, c["name"], "error_policy").items() if msg]
                if past:
                    ax.annotate(f"learned (error policy): raises at {min(map(int, past))}+", (0.02, 0.03),
                                xycoords="axes fraction", fontsize=7)
        ax.axvspan(min(train), max(train), color="grey", alpha=0.15, label="training lengths")
        ax.axhline(first_metric(results, task_cells(results, task)[0]["name"], "chance"), color="black",
                   linestyle=":", linewidth=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("test length (tokens)")
        ax.set_ylabel(f"accuracy (%), mean and 95% CI over {len(results['seeds'])} seeds")
        ax.set_ylim(0, 105)
        ax.set_title(f"{task}: trained on lengths {min(train)}-{max(train)}")
        ax.legend(fontsize=7, loc="center left")
    return plots.save(fig, fig_dir, "extrapolation_curves.png")


def learned_tables(results: dict, fig_dir: Path) -> str:
    cells = [c for t in tasks(results) for c in task_cells(results, t)
             if c["params"]["encoding"] == "learned" and not c["params"]["randomized"]]
    fig, axes = plots.figure(max(1, len(cells)), 2, width=5, height=3.6)
    axes = np.atleast_2d(axes)
    for row, c in zip(axes, cells):
        for ax, key in zip(row, ("init", "trained")):
            table = np.asarray(first_metric(results, c["name"], f"table_{key}"))  # (positions, D)
            score = mean_ci(seed_values(results, c["name"], f"structure_{key}"))
            image = ax.imshow(table, cmap="RdBu_r", aspect="auto", vmin=-np.abs(table).max(), vmax=np.abs(table).max())
            fig.colorbar(image, ax=ax)
            ax.grid(False)
            ax.set_xlabel("model dimension")
            ax.set_ylabel("position")
            ax.set_title(f"{c['params']['task']}, {'at initialization' if key == 'init' else 'trained'} (seed 0)\n"
                         f"neighbour structure score {score.mean:.2f} (mean over {score.n} seeds)", fontsize=9)
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
        image = ax.imshow(np.asarray(first_metric(results, c["name"], key)), cmap="viridis")
        fig.colorbar(image, ax=ax, shrink=0.8)
        for edge in (ax.axhline, ax.axvline):
            edge(longest - 0.5, color="white", linestyle="--", linewidth=0.8)
        ax.grid(False)
        ax.set_title(label(c["params"]), fontsize=9)
        ax.set_xlabel("key position" if key == "attention" else "position")
        ax.set_ylabel("query position" if key == "attention" else "position")
    fig.suptitle(f"{title}; dashed: end of the training range")
    return plots.save(fig, fig_dir, name)


def failure_modes(results: dict, fig_dir: Path) -> str:
    """The seed's failure was training; here: training curves, the bag-of-tokens control, and
    which negatives break first at the longest length tested up to 256."""
    fig, (curves, gaps, kinds) = plots.figure(1, 3, width=5.2, height=4.0)
    cells = task_cells(results, "sortedness")
    for c in cells:
        runs = finished_runs(results, c["name"])
        steps = max((r["metrics"]["curve_steps"] for r in runs), key=len)  # seeds stop early at different steps
        plots.line_with_band(curves, steps, [r["metrics"]["val_curve"] for r in runs], label=label(c["params"]))
    curves.set(xlabel="training step", ylabel="validation accuracy (%), lengths 8-16", ylim=(0, 105),
               title="Training on lengths 8-16 (the seed's stayed at 50%)")
    curves.legend(fontsize=7)
    nones = [c for c in cells if "permutation_gap" in finished_runs(results, c["name"])[0]["metrics"]]
    values = [seed_values(results, c["name"], "permutation_gap") for c in nones]
    gaps.bar(range(len(nones)), [max(np.mean(v), 1e-9) for v in values], color="C0", alpha=0.8)
    for i, v in enumerate(values):
        gaps.plot([i] * len(v), np.maximum(v, 1e-9), "o", color="black", markersize=3)
        gaps.annotate(f"{np.mean(v):.1e}", (i, max(np.mean(v), 1e-9)), ha="center", va="bottom", fontsize=8)
    gaps.set_xticks(range(len(nones)), [label(c["params"]) for c in nones])
    gaps.set_yscale("log")
    gaps.set(ylabel="max |logit change| under shuffling (dots: seeds)", title="No positions: causal mask vs bag")
    if cells:
        last = max(beyond(results, cells[0]["name"]) or lengths(results, cells[0]["name"]))
        names = ("sorted", "adjacent_swap", "far_swap", "moved")
        width = 0.8 / len(cells)
        for i, c in enumerate(cells):
            runs = finished_runs(results, c["name"])
            values = [np.mean([r["metrics"]["by_kind"][str(last)].get(k, np.nan) for r in runs]) for k in names]
            kinds.bar(np.arange(len(names)) + i * width, values, width, label=label(c["params"]))
        kinds.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=20)
        kinds.set(ylabel=f"accuracy at length {last} (%), mean over seeds", title="Which rows fail at long lengths")
        kinds.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    return plots.save(fig, fig_dir, "pe_failure_modes.png")


# ---------------------------------------------------------------------------- claims
ANCHORS = ("Anchors: Press et al. 2022 (ALiBi trains short and tests long); Kazemnejad et al. 2023 "
           "(absolute and rotary encodings generalize poorly in length on algorithmic tasks, no positions "
           "sometimes better).")


def measure(results: dict) -> list[Measurement]:
    out: list[Measurement] = []
    far = results["config"]["far_length"]
    for task in tasks(results):
        out += _seed_002(results, task)
        if far:
            out += _seed_000(results, task, far)
    return out


def _context(results: dict, cell: str) -> str:
    """Which model, trained on what, and how well it learned: the start of every note."""
    arch = first_metric(results, cell, "arch")
    train = results["config"]["train_lengths"]
    fit_ = mean_ci(seed_values(results, cell, "in_dist_acc"))
    model = "causal GPT, answer read after the last token" if arch == "gpt" else "encoder, no mask, mean pooling"
    return (f"{model}; trained on lengths {min(train)}-{max(train)}, held-out accuracy there "
            f"{fit_.mean:.1f}% (mean of {fit_.n} seeds)")


def _params(results: dict, cell: str) -> dict:
    return next(c["params"] for c in results["cells"] if c["name"] == cell)


def _seed_002(results: dict, task: str) -> list[Measurement]:
    """C002-05 (sortedness only), C002-06 in its three parts, C002-07."""
    out = []
    for enc, arch in (("sinusoidal", "gpt"), ("learned", "gpt"), ("none", "gpt"), ("none", "encoder")):
        cell = cell_named(results, task, enc, arch)
        if cell is None:
            continue
        chance, long = first_metric(results, cell, "chance"), beyond(results, cell)
        part = f"{task}, {label(_params(results, cell))}"
        note = f"{_context(results, cell)}; mean accuracy over lengths {min(long)}-{max(long)}. {ANCHORS}"
        past = mean_over(results, cell, long)
        if task == "sortedness":
            out.append(Measurement("C002-05", "~50% (45-55%) at 32-256", past, "%", around(50, 5), part, note))
        if enc == "sinusoidal":
            out.append(Measurement("C002-06", "extrapolates: high accuracy at 32-256", past, "%", at_least(90),
                                   f"{part}: extrapolates", note))
        elif enc == "learned":
            raised = [n for n, msg in first_metric(results, cell, "error_policy").items() if msg]
            out.append(Measurement("C002-06", "fails past the training length (~chance)", past, "%",
                                   at_most(chance + 10), f"{part}: fails past the training length",
                                   f"{note} Clamp policy; the error policy on the same weights raised BlocklabError "
                                   f"at lengths {', '.join(raised) or 'none'}, so its outcome there is no answer."))
        else:
            gap = seed_values(results, cell, "permutation_gap") if task == "sortedness" else []
            shuffle = f" Max |logit change| when the tokens are shuffled: {np.mean(gap):.2g}." if gap else ""
            out.append(Measurement("C002-06", "stays at chance", seed_values(results, cell, "in_dist_acc"), "%",
                                   around(chance, 5), f"{part}: at chance on the training lengths",
                                   f"{_context(results, cell)}.{shuffle}"))
    cell = cell_named(results, task, "learned")
    if cell is not None:
        score = ("structure score: mean cosine similarity of neighbouring rows of the position table after "
                 "removing the mean row; independent noise gives about -1/(rows-1), a smooth table near 1")
        out += [Measurement("C002-07", "untrained table looks like noise", seed_values(results, cell, "structure_init"),
                            "", around(0, 0.15), f"{task}, at initialization", score),
                Measurement("C002-07", "trained table shows structure", seed_values(results, cell, "structure_trained"),
                            "", at_least(0.3), f"{task}, trained", f"{score}; {_context(results, cell)}")]
    return out


def _seed_000(results: dict, task: str, far: int) -> list[Measurement]:
    """C000-11 at `far` tokens; seed 000 trained at 100 and tested to 1000."""
    out = []
    longest = max(results["config"]["train_lengths"])
    for enc, works in (("sinusoidal", True), ("alibi", True), ("learned", False)):
        cell = cell_named(results, task, enc)
        if cell is None:
            continue
        rule = at_least(90) if works else at_most(first_metric(results, cell, "chance") + 10)
        out.append(Measurement(
            "C000-11", "works at 1000" if works else "fails", seed_values(results, cell, f"acc.{far}"), "%", rule,
            f"{task}, {label(_params(results, cell))}, length {far}",
            f"{_context(results, cell)}. Seed 000 trained at 100 and tested at up to 10x that; {far} is "
            f"{far / longest:.0f}x the longest input here (see extrapolation_results.json for 2x-16x). "
            f"'Works' read as >= 90%, 'fails' as at most chance + 10 points. {ANCHORS}"))
    return out
