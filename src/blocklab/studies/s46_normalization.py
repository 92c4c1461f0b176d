"""46 normalization: none, BatchNorm, LayerNorm, RMSNorm in a Transformer classifier
(claims C000-03, C000-04, C000-05, C000-16, C003-02).

Task: tasks.lookup (8 symbols from 10, then a pointer token P_k; answer the k-th symbol;
chance 10%), 5,000 training sequences, 1,000 test; the data seed is the run's seed. Model:
nn.EncoderClassifier, 3 layers, d_model 32, 2 heads, d_ff 64, learned positions, mean
pooling, blocklab's default init normal(0, 0.02). Every cell trains with AdamW for the same
number of steps at lr 1e-3 (the seed-like rate, for every cell), batch 32, pre-norm, unless
the cell says otherwise:

- norm types at batch 32: none, batch, layer, rms;
- batch sizes 4, 32, 128 for BatchNorm and LayerNorm, and 1 for BatchNorm (with T = 9
  positions batch 1 is still defined: the statistics are over one sequence's positions);
- post-norm LayerNorm at batch 32 (C003-02, against the pre-norm cell);
- a learning-rate sweep: none and layer at lr 1e-2 (the main cells are the 1e-3 points);
- "probes" trains nothing: eps = 0 on a degenerate input, and BatchNorm on batch 1 x time 1.

Evaluation runs once, at the end. Measured per run: test accuracy and mistakes, training
loss every 10 steps, divergence (fit:
a non-finite loss or a gradient norm above 1e4), the loss spread (std of the detrended loss
over the second half of training), per-block gradient norms at init and during training,
histograms of each block's output (hook_resid_post) at init and after training, and how much
a sequence's logits change when its 31 batch-mates are replaced.
"""
from __future__ import annotations

import copy
import math
import textwrap
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import BlocklabError
from ..nn import ClassifierConfig, EncoderClassifier
from ..report import plots
from ..report.results import seed_values
from ..report.verdicts import Measurement, around, at_least, between
from ..tasks import lookup
from ..train import TrainConfig, fit
from .common import accuracy_and_mistakes, classify
from .registry import Cell, Study, register
from .s45_skip_connections import (
    band, gradient_norms, grid, log10, mean_log10, per_block, tag, values_at,
)

MAIN_BATCH = 32
LABEL = {"none": "no norm", "batch": "BatchNorm", "layer": "LayerNorm", "rms": "RMSNorm"}


@dataclass
class NormConfig:
    steps: int = 800
    lr: float = 1e-3
    high_lr: float = 1e-2  # the learning-rate sweep's second point, for none and layer
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 3
    n_train: int = 5000
    norms: tuple[str, ...] = ("none", "batch", "layer", "rms")
    batch_sizes: tuple[int, ...] = (1, 4, 32, 128)  # BatchNorm at each; LayerNorm at each but 1
    log_every: int = 10


def model_config(cfg: NormConfig, vocab: int, classes: int, **changes) -> ClassifierConfig:
    return ClassifierConfig(vocab_size=vocab, n_classes=classes, d_model=cfg.d_model, n_heads=cfg.n_heads,
                            d_ff=2 * cfg.d_model, n_layers=cfg.n_layers, max_len=16, pos_encoding="learned",
                            **changes)


def loss_spread(losses: list[float]) -> float:
    """Std of the second half of a loss curve around its straight-line fit (nats): step-to-step
    instability without the downward trend. NaN with fewer than 4 points."""
    y = np.asarray(losses[len(losses) // 2:], dtype=float)
    if y.size < 4 or not np.isfinite(y).all():
        return math.nan
    t = np.arange(y.size)
    return float((y - np.polyval(np.polyfit(t, y, 1), t)).std())


@torch.no_grad()
def distributions(model: EncoderClassifier, x: torch.Tensor, bins: int = 40) -> list[dict]:
    """Per block: a density histogram of hook_resid_post on x (train mode, on a copy), and its std."""
    probe = copy.deepcopy(model).train()
    names = [f"blocks.{k}.hook_resid_post" for k in range(len(probe.blocks))]
    _, cache = probe.run_with_cache(x, names=names)
    out = []
    for name in names:
        v = cache[name].flatten().double().numpy()  # B*T*D values
        edge = float(np.abs(v).max()) or 1.0
        density, edges = np.histogram(v, bins=bins, range=(-edge, edge), density=True)
        out.append({"edges": edges.tolist(), "density": density.tolist(), "std": float(v.std())})
    return out


@torch.no_grad()
def batchmate_change(model: EncoderClassifier, x: torch.Tensor, train_mode: bool) -> float:
    """% change of sequence 0's logits when the other 31 sequences of its batch are replaced."""
    probe = copy.deepcopy(model).train(train_mode)
    a = probe(x[:32])[0]  # (C,)
    b = probe(torch.cat([x[:1], x[32:63]]))[0]
    return float(100 * (a - b).norm() / a.norm())


def flow_imbalance(blocks: list[float]) -> float:
    """|log10(first block's gradient norm / last block's)|: 0 is perfectly even gradient flow."""
    return abs(math.log10(blocks[0] / blocks[-1])) if blocks[0] > 0 and blocks[-1] > 0 else math.nan


@register
class Normalization(Study):
    name = "normalization"
    description = "46: no norm vs BatchNorm, LayerNorm, RMSNorm; batch size, pre vs post, eps 0 and batch 1"
    claims = ("C000-03", "C000-04", "C000-05", "C000-16", "C003-02")
    group = "building-blocks"
    Config = NormConfig
    quick = {"steps": 40, "batch_sizes": (4, 128), "n_layers": 2, "log_every": 4}

    def cells(self, cfg):
        names: dict[str, dict] = {}
        main = dict(batch=MAIN_BATCH, position="pre", lr=cfg.lr)
        for norm in cfg.norms:
            names[f"{norm}-b{MAIN_BATCH}"] = dict(main, norm=norm)
        for b in cfg.batch_sizes:
            for norm in ("batch", "layer") if b > 1 else ("batch",):
                names[f"{norm}-b{b}"] = dict(main, norm=norm, batch=b)
        names[f"layer-post-b{MAIN_BATCH}"] = dict(main, norm="layer", position="post")
        for norm in ("none", "layer"):
            names[f"{norm}-lr{cfg.high_lr:g}"] = dict(main, norm=norm, lr=cfg.high_lr)
        return [Cell(n, p) for n, p in names.items()] + [Cell("probes", {"norm": "probes"})]

    def run_cell(self, cell, seed, ctx):
        return self._run(cell.params, seed, ctx)

    def _run(self, p, seed, ctx):
        cfg = ctx.cfg
        task = lookup(cfg.n_train, 500, 1000, seed=seed)
        x_test = task.splits["test"][0]
        if p["norm"] == "probes":
            return probes(cfg, task.vocab_size, task.n_classes, x_test)
        model = EncoderClassifier(model_config(cfg, task.vocab_size, task.n_classes, norm=p["norm"],
                                               norm_position=p["position"]))
        batch = tuple(t[:256] for t in task.splits["train"])
        grad_init = per_block(gradient_norms(model, classify, batch), cfg.n_layers, "blocks.")
        dist_init = distributions(model, x_test[:256])
        train = TrainConfig(steps=cfg.steps, batch_size=p["batch"], lr=p["lr"], eval_every=None,
                            log_every=cfg.log_every, seed=seed, device=ctx.device)
        data = {s: task.splits[s] for s in ("train", "val")}
        result = fit(model, data, classify, train, run_dir=ctx.work_dir, progress=ctx.progress)
        model.cpu()
        scored = accuracy_and_mistakes(model, task)
        losses = [r["loss"] for r in result.steps_log]
        grad_train = [per_block(r, cfg.n_layers, "blocks.", "grad_norm/") for r in result.steps_log]
        return {
            "test_acc": scored["acc"], "mistakes": scored["mistakes"], "diverged": result.diverged,
            "diverged_pct": 100.0 * result.diverged, "diverged_at": result.diverged_at, "notes": result.notes,
            "loss_steps": [r["step"] for r in result.steps_log], "loss": losses, "loss_spread": loss_spread(losses),
            "grad_init": grad_init, "grad_train": grad_train, "flow_init": flow_imbalance(grad_init),
            "flow_train": float(np.nanmean([flow_imbalance(g) for g in grad_train])) if grad_train else math.nan,
            "dist_init": dist_init, "dist_final": distributions(model, x_test[:256]),
            "batchmates_train": batchmate_change(model, x_test, True),
            "batchmates_eval": batchmate_change(model, x_test, False),
        }

    def figures(self, results, fig_dir):
        cfg = results["config"]
        return [draw(results, cfg, fig_dir) for draw in (fig_training, fig_batch_training, fig_types,
                                                          fig_distributions, fig_comparison, fig_batch_size,
                                                          fig_failures)]

    def measure(self, results):
        cfg, b = results["config"], MAIN_BATCH
        lr_note = f"lr {cfg['lr']:g} for every cell, {cfg['steps']} steps"

        def ratio(num: str, den: str, metric: str) -> list[float]:
            return [x / y if y > 0 else math.nan for x, y in
                    zip(seed_values(results, num, metric), seed_values(results, den, metric))]

        def minus(a: str, b_: str, metric: str) -> list[float]:
            return [x - y for x, y in zip(seed_values(results, a, metric), seed_values(results, b_, metric))]

        spread = "loss spread: std of the detrended training loss over the second half of training"
        small, large = 4, 128  # the seed's table
        return [
            Measurement("C000-03", "explodes (NaN)", seed_values(results, f"none-b{b}", "diverged_pct"), "%",
                        at_least(50), part=f"no norm, lr {cfg['lr']:g}",
                        note="100 if the run diverged (non-finite loss or gradient norm > 1e4) else 0; " + lr_note),
            Measurement("C000-03", "explodes (NaN)", seed_values(results, f"none-lr{cfg['high_lr']:g}",
                                                                 "diverged_pct"), "%",
                        at_least(50), part=f"no norm, lr {cfg['high_lr']:g} (sweep)"),
            Measurement("C000-04", "~37%", seed_values(results, f"batch-b{b}", "test_acc"), "%", around(37, 5),
                        part="BatchNorm test accuracy", note=f"lookup task, chance 10%; {lr_note}"),
            Measurement("C000-04", "~60%", seed_values(results, f"layer-b{b}", "test_acc"), "%", around(60, 5),
                        part="LayerNorm test accuracy"),
            Measurement("C000-05", "BatchNorm unstable at 4, LayerNorm stable", ratio(
                f"batch-b{small}", f"layer-b{small}", "loss_spread"), "x", at_least(1.5),
                part=f"batch {small}: BatchNorm / LayerNorm loss spread", note=spread + "; stated: >= 1.5"),
            Measurement("C000-05", "BatchNorm best at 128", ratio(f"batch-b{small}", f"batch-b{large}", "loss_spread"),
                        "x", at_least(2), part=f"BatchNorm: loss spread at batch {small} / at {large}"),
            Measurement("C000-05", "LayerNorm stable at all batch sizes", ratio(
                f"layer-b{small}", f"layer-b{large}", "loss_spread"), "x", between(0.5, 2),
                part=f"LayerNorm: loss spread at batch {small} / at {large}"),
            Measurement("C000-16", "eps = 0 gives NaN", seed_values(results, "probes", "nan_pct.layer-eps0-zeroed"), "%",
                        at_least(50), part="LayerNorm eps 0 gives NaN",
                        note="% of NaN logits when position 0's input vector is zero; eps 1e-5 and ordinary "
                             "inputs are in the figure"),
            Measurement("C000-16", "BatchNorm with batch 1 is undefined", seed_values(results, "probes", "bn1_raised"),
                        "%", at_least(50), part="BatchNorm batch 1 undefined",
                        note="100 if BatchNorm raised BlocklabError in training on batch 1 x time 1"),
            Measurement("C003-02", "pre-norm flows better", minus(f"layer-post-b{b}", f"layer-b{b}", "flow_init"),
                        "log10", at_least(0), part="at init",
                        note="imbalance |log10(first block's gradient norm / last block's)|, post minus pre; "
                             "> 0 means pre-norm's flow is more even"),
            Measurement("C003-02", "pre-norm flows better", minus(f"layer-post-b{b}", f"layer-b{b}", "flow_train"),
                        "log10", at_least(0), part="during training (mean over logged steps)"),
        ]


def probes(cfg: NormConfig, vocab: int, classes: int, x: torch.Tensor) -> dict:
    """The failure modes that need no training: eps = 0, and BatchNorm on a single value per feature."""
    nan_pct = {}
    zero_first = ("embed.hook_pos_embed", lambda act, hook: torch.cat([torch.zeros_like(act[:, :1]), act[:, 1:]], 1))
    for norm in ("layer", "rms", "batch"):
        for eps in (0.0, 1e-5):
            model = EncoderClassifier(model_config(cfg, vocab, classes, norm=norm, norm_eps=eps)).eval()
            if norm == "batch":
                model.train()  # batch statistics: eval mode would use the running ones
            with torch.no_grad():
                for inp, hooks in (("ordinary", []), ("zeroed", [zero_first])):
                    logits = model.run_with_hooks(x[:256], fwd_hooks=hooks)  # (B, C)
                    nan_pct[f"{norm}-eps{eps:g}-{inp}"] = float(100 * logits.isnan().any(-1).float().mean())
    bn = EncoderClassifier(model_config(cfg, vocab, classes, norm="batch")).train()
    with torch.no_grad():
        try:
            bn(x[:1, :1])  # batch 1 x time 1
            raised, message = 0.0, "no error"
        except BlocklabError as err:
            raised, message = 100.0, f"{type(err).__name__}: {err}"
        ok_t = bn(x[:1]).isfinite().all().item()  # batch 1 x time 9: statistics over the positions
    return {"nan_pct": nan_pct, "bn1_raised": raised, "bn1_message": message, "bn1_time9_finite": float(ok_t)}


# ---------------------------------------------------------------------- figures (from results only)
def curves(results: dict, cell: str, y: str, x: str) -> tuple[list, list]:
    """The longest x axis among a cell's seeds, and every seed's y curve."""
    return max(values_at(results, cell, x) or [[]], key=len), values_at(results, cell, y)


def mean_text(values: list[float], fmt: str) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return format(float(np.mean(finite)), fmt) if finite else "n/a"


def log_y(ax) -> None:
    """A log y axis, when something positive was drawn (matplotlib refuses one otherwise)."""
    ys = [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
    if any((y[np.isfinite(y)] > 0).any() for y in ys):
        ax.set_yscale("log")


def fig_training(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 2)
    for i, norm in enumerate(cfg["norms"]):
        cell = f"{norm}-b{MAIN_BATCH}"
        band(axes[0], *curves(results, cell, "loss", "loss_steps"), tag(results, cell, LABEL[norm]), f"C{i}")
    for i, norm in enumerate(("none", "layer")):
        for cell, lr in ((f"{norm}-b{MAIN_BATCH}", cfg["lr"]), (f"{norm}-lr{cfg['high_lr']:g}", cfg["high_lr"])):
            label = tag(results, cell, f"{LABEL[norm]}, lr {lr:g}")
            band(axes[1], *curves(results, cell, "loss", "loss_steps"), label, f"C{i * 2}", lr != cfg["lr"])
    axes[0].set(title=f"Norm types, batch {MAIN_BATCH}, lr {cfg['lr']:g}")
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
            band(ax, *curves(results, f"{norm}-b{b}", "loss", "loss_steps"), LABEL[norm], f"C{i + 1}")
        ax.set(title=f"batch {b}", xlabel="step", ylabel="training loss (nats)")
        ax.legend(fontsize=7)
    fig.suptitle("BatchNorm vs LayerNorm by batch size (mean, 95% CI over seeds)")
    return plots.save(fig, fig_dir, "46_normalization_batch_training.png")


def fig_types(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 2)
    cells = [f"{n}-b{MAIN_BATCH}" for n in cfg["norms"]]
    labels = [f"{LABEL[n]}\n{mean_text(seed_values(results, c, 'diverged_pct'), '.0f')}% diverged"
              for n, c in zip(cfg["norms"], cells)]
    plots.bars_with_ci(axes[0], labels, [seed_values(results, c, "test_acc") for c in cells])
    axes[0].axhline(10, color="gray", linestyle=":", linewidth=0.8)
    axes[0].set(title="Test accuracy (chance 10%)", ylabel="%", ylim=(0, 102))
    plots.bars_with_ci(axes[1], labels, [seed_values(results, c, "loss_spread") for c in cells], color="C1")
    axes[1].set(title="Loss spread, second half of training", ylabel="std of detrended loss (nats)")
    fig.suptitle(f"Norm types on lookup, batch {MAIN_BATCH}, lr {cfg['lr']:g}")
    return plots.save(fig, fig_dir, "46_normalization_types.png")


def fig_distributions(results, cfg, fig_dir):
    fig, axes = grid(len(cfg["norms"]), 2, width=4.5, height=2.8)
    for row, norm in zip(axes, cfg["norms"]):
        for ax, when in zip(row, ("init", "final")):
            runs = [r for r in values_at(results, f"{norm}-b{MAIN_BATCH}", f"dist_{when}") if r]
            for k, layer in enumerate(runs[0] if runs else []):
                stds = [run[k]["std"] for run in runs]
                ax.stairs(layer["density"], layer["edges"], color=f"C{k}",
                          label=f"block {k + 1}: std {np.mean(stds):.3g} (seeds {min(stds):.2g}-{max(stds):.2g})")
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
        band(axes[0], blocks, log10(values_at(results, cell, "grad_init")), f"{pos}-norm", f"C{i}")
        during = [mean_log10(g) if g else [] for g in values_at(results, cell, "grad_train")]
        band(axes[1], blocks, during, f"{pos}-norm", f"C{i}")
    labels = [f"{pos} {when}" for when in ("init", "train") for pos in cells]
    plots.bars_with_ci(axes[2], labels, [seed_values(results, cells[lab.split()[0]], f"flow_{lab.split()[1]}")
                                         for lab in labels], color="C2")
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
            band(ax, list(per_size), [[v[s] for v in per_size.values()] for s in range(n)], LABEL[norm], f"C{i + 1}")
    axes[0].set(title="Loss spread, second half of training", ylabel="std of detrended loss (nats)")
    log_y(axes[0])
    axes[1].set(title="Test accuracy (chance 10%)", ylabel="%", ylim=(0, 102))
    for ax in axes:
        ax.set(xscale="log", xlabel="batch size")
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.legend(fontsize=7)
    fig.suptitle(f"Batch size, {cfg['steps']} steps each")
    return plots.save(fig, fig_dir, "46_normalization_batch_size.png")


def fig_failures(results, cfg, fig_dir):
    fig, axes = plots.figure(1, 3, width=4.8)
    short = {"layer": "LN", "rms": "RMS", "batch": "BN"}
    keys = [(n, e, inp) for n in short for e, inp in (("0", "zeroed"), ("1e-05", "zeroed"), ("0", "ordinary"))]
    plots.bars_with_ci(axes[0], [f"{short[n]} eps {e} {inp}" for n, e, inp in keys],
                       [seed_values(results, "probes", f"nan_pct.{n}-eps{e}-{inp}") for n, e, inp in keys], color="C3")
    axes[0].set(title="NaN logits at init (zeroed: position 0's input is 0)", ylabel="% of sequences", ylim=(0, 105))
    pairs = [(n, mode) for n in ("batch", "layer") for mode in ("train", "eval")]
    plots.bars_with_ci(axes[1], [f"{LABEL[n]}\n{mode} mode" for n, mode in pairs],
                       [seed_values(results, f"{n}-b{MAIN_BATCH}", f"batchmates_{mode}") for n, mode in pairs], color="C4")
    axes[1].set(title="Wrong axis: one sequence's logits vs its batch-mates", ylabel="% change of the logits")
    message = next((m for m in values_at(results, "probes", "bn1_message") if m), "(not run)")
    trained = seed_values(results, "batch-b1", "test_acc")
    lines = textwrap.wrap("batch 1 x time 1 -> " + message, 46) + ["", "batch 1 x time 9 (statistics over 9",
             f"positions) trains: test acc {mean_text(trained, '.1f')}%", f"(batch {MAIN_BATCH}: "
             f"{mean_text(seed_values(results, f'batch-b{MAIN_BATCH}', 'test_acc'), '.1f')}%)"]
    axes[2].axis("off")
    axes[2].set_title("BatchNorm on batch 1")
    axes[2].text(0, 0.95, "\n".join(lines), va="top", family="monospace", fontsize=7)
    fig.suptitle("Normalization failure modes")
    return plots.save(fig, fig_dir, "46_norm_failures.png")
