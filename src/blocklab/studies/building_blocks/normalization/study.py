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

import numpy as np
import torch

from blocklab.errors import BlocklabError
from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import ClassifierConfig, EncoderClassifier
from blocklab.report.results import config_value, seed_values
from blocklab.report.verdicts import Measurement, around, at_least, between
from blocklab.studies.common.gradients import gradient_norms, per_block
from blocklab.studies.common.training import accuracy_and_mistakes, classify
from blocklab.tasks import lookup
from blocklab.train import fit

from .config import MAIN_BATCH, NormConfig
from .figures import draw_all


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
    """Per block: a density histogram of hook_resid_post's finite values on x (train mode, on a copy), their
    std, and the % of values that are not finite (a diverged model's are all NaN: an empty histogram, std NaN)."""
    probe = copy.deepcopy(model).train()
    names = [f"blocks.{k}.hook_resid_post" for k in range(len(probe.blocks))]
    _, cache = probe.run_with_cache(x, names=names)
    out = []
    for name in names:
        v = cache[name].flatten().double().numpy()  # B*T*D values
        ok = v[np.isfinite(v)]
        edge = float(np.abs(ok).max()) if ok.size else 0.0
        density, edges = np.histogram(ok, bins=bins, range=(-(edge or 1.0), edge or 1.0), density=bool(ok.size))
        out.append({"edges": edges.tolist(), "density": density.tolist(),
                    "std": float(ok.std()) if ok.size else math.nan, "nonfinite_pct": 100.0 * (1 - ok.size / v.size)})
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
    claim_figures = {"C000-03": ("46_normalization_training.png",), "C000-04": ("46_normalization_types.png",),
                     "C000-05": ("46_normalization_batch_size.png", "46_normalization_batch_training.png"),
                     "C000-16": ("46_norm_failures.png",), "C003-02": ("46_normalization_comparison.png",)}
    group = "building-blocks"
    Config = NormConfig
    quick = {"train.steps": 40, "train.log_every": 4, "batch_sizes": (4, 128), "n_layers": 2}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        names: dict[str, dict] = {}
        main = dict(batch=MAIN_BATCH, position="pre", lr=cfg.train.lr)
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
        train = cfg.train.replace(batch_size=p["batch"], lr=p["lr"], seed=seed, device=ctx.device)
        data = {s: task.splits[s] for s in ("train", "val")}
        result = fit(model, data, classify, train, run_dir=ctx.work_dir, progress=ctx.progress)
        model.save(ctx.model_dir)
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
        return draw_all(results, fig_dir)

    def measure(self, results):
        cfg, b = results["config"], MAIN_BATCH
        lr = config_value(results, "train.lr")
        lr_note = f"lr {lr:g} for every cell, {config_value(results, 'train.steps')} steps"

        def ratio(num: str, den: str, metric: str) -> list[float]:
            return [x / y if y > 0 else math.nan for x, y in
                    zip(seed_values(results, num, metric), seed_values(results, den, metric))]

        def minus(a: str, b_: str, metric: str) -> list[float]:
            return [x - y for x, y in zip(seed_values(results, a, metric), seed_values(results, b_, metric))]

        spread = "loss spread: std of the detrended training loss over the second half of training"
        small, large = 4, 128  # the seed's table
        return [
            Measurement("C000-03", "explodes (NaN)", seed_values(results, f"none-b{b}", "diverged_pct"), "%",
                        at_least(50), part=f"no norm, lr {lr:g}",
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
            Measurement("C000-16", "eps = 0 gives NaN", seed_values(results, "probes", "nan_pct.layer-eps0-zeroed"),
                        "%", at_least(50), part="LayerNorm eps 0 gives NaN",
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
