"""45 skip connections: plain vs residual deep networks on two spirals (claims C000-01, C000-02, C000-16).

Task: tasks.spirals (2 turns, noise 0.05), 2,000 training points, 1,000 test points; the
data seed is the run's seed. Model: studies.common.VectorNet, width 32, ReLU, norm='none':
a 2 -> 32 input layer, then N blocks, then a 32 -> 2 output layer. A block is one FFN
sublayer, two linear layers (32 -> 32 -> 32), so a "10-layer" network is 5 blocks and
"50 layers" is 25 blocks; the input and output layers are not counted. Plain means
residual=False (y = F(x)); residual means y = residual_scale * x + F(x).

Initialisation decides whether plain nets fail, so every depth runs twice: with blocklab's
default normal(0, 0.02) and with the He-scaled std sqrt(2 / d_model) = 0.25 on every layer
(d_ff = d_model, so every hidden layer has fan-in 32). He's factor 2 assumes a ReLU after
each layer; a block's second layer has none, so this init doubles the stream's variance
per block. AdamW at lr 1e-3, batch 64, 1,500 steps for every cell; fit marks a run
diverged at a non-finite loss or a gradient norm above 1e4 (it keeps the last good weights).

Measured per run: test accuracy and mistakes, validation curves, the gradient norm of each
block at initialisation (one backward pass on 256 training points) and during training
(fit's grad_norm/<group> logs), the stream's RMS and the skip-vs-branch ratio
||scale * x|| / ||F(x)|| in each block at init and after training, and the decision
boundary on the plane. The "init-gradients" cell trains nothing: it measures the gradient
reaching the first block at init for many depths. The "mismatch" cell calls add_residual
with mismatched widths and records the error.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.lab.registry import Cell, Study, Training, register
from blocklab.nn import BlockConfig, add_residual
from blocklab.report.results import config_value, seed_values
from blocklab.report.verdicts import Measurement, around, at_least, at_most, between
from blocklab.studies.common.gradients import gradient_norms, per_block
from blocklab.studies.common.training import VectorNet, accuracy_and_mistakes, classify
from blocklab.tasks import spirals
from blocklab.train import fit

from .captions import CAPTIONS
from .config import INIT_LABEL, PREFIX, TURNS, SkipConfig
from .figures import draw_all


def init_std(init: str, d_model: int) -> float:
    return 0.02 if init == "default" else math.sqrt(2 / d_model)


@torch.no_grad()
def signal_norms(model: VectorNet, x: torch.Tensor, scale: float | None) -> dict:
    """Per block: RMS of the stream after it, and ||scale * x|| / ||F(x)|| (None for plain blocks)."""
    seen: dict[tuple[int, str], torch.Tensor] = {}
    handles = []
    for k, block in enumerate(model.stack.blocks):
        for name, point in (("x", block.hook_resid_mid), ("f", block.hook_mlp_out), ("y", block.hook_resid_post)):
            handles.append(point.register_forward_hook(
                lambda mod, inp, out, key=(k, name): seen.__setitem__(key, out)))  # out: (B, 1, D)
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    n = len(model.stack.blocks)
    stream = [float(seen[k, "y"].pow(2).mean().sqrt()) for k in range(n)]
    ratio = None if scale is None else [
        float(abs(scale) * seen[k, "x"].norm() / seen[k, "f"].norm().clamp_min(1e-30)) for k in range(n)]
    return {"stream": stream, "skip_ratio": ratio}


@torch.no_grad()
def boundary(model: nn.Module, n: int) -> list[list[float]]:
    """P(arm 1) on an n x n grid over [-1.2, 1.2]^2; row i is y = axis[i]."""
    axis = torch.linspace(-1.2, 1.2, n)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")  # (n, n) each
    points = torch.stack([gx.flatten(), gy.flatten()], dim=1)  # (n*n, 2)
    return model(points).softmax(-1)[:, 1].reshape(n, n).tolist()


def net_config(cfg: SkipConfig, init: str, residual: bool, scale: float = 1.0) -> BlockConfig:
    return BlockConfig(d_model=cfg.d_model, d_ff=cfg.d_model, norm="none", residual=residual, residual_scale=scale,
                       activation="relu", init_std=init_std(init, cfg.d_model), mixer="none", pos_encoding="none")


@register
class SkipConnections(Study):
    name = "skip-connections"
    description = "45: plain vs residual deep networks on spirals, two inits; skip scale and width failures"
    claims = ("C000-01", "C000-02", "C000-16")
    claim_figures = {"C000-01": ("45_skip_connections_training.png", "45_skip_connections_highway.png"),
                     "C000-02": ("45_skip_connections_training.png",), "C000-16": ("45_skip_failures.png",)}
    group = "building-blocks"
    figure_captions = CAPTIONS
    Config = SkipConfig
    quick = {"train.steps": 250, "depths": (10,), "probe_depths": (10, 50)}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        cells = [Cell(f"{kind}-{d}-{init}", {"kind": kind, "layers": d, "init": init, "scale": 1.0})
                 for init in cfg.inits for d in cfg.depths for kind in ("plain", "residual")]
        cells += [Cell(f"scale={s:g}-{cfg.depths[0]}-{init}",
                       {"kind": "residual", "layers": cfg.depths[0], "init": init, "scale": s})
                  for init in cfg.inits for s in cfg.failure_scales]
        return cells + [Cell("init-gradients", {"kind": "probe"}), Cell("mismatch", {"kind": "mismatch"})]

    def run_cell(self, cell, seed, ctx):
        cfg, p = ctx.cfg, cell.params
        if p["kind"] == "mismatch":
            return mismatch_outcome(cfg.d_model)
        if p["kind"] == "probe":
            task = spirals(cfg.n_train, 500, 1000, seed=seed, turns=TURNS)
            return probe_depths(cfg, _probe_batch(task))
        training = self.prepare(cell, seed, ctx)
        model, task = training.model, training.keep
        residual, blocks = p["kind"] == "residual", p["layers"] // 2
        scale = p["scale"] if residual else None
        x_test = task.splits["test"][0]
        grad_init = per_block(gradient_norms(model, classify, _probe_batch(task)), blocks, PREFIX)
        signal_init = signal_norms(model, x_test, scale)
        result = fit(model, training.data, training.loss_fn, training.train, run_dir=ctx.work_dir,
                     progress=ctx.progress)
        model.cpu()
        signal_final = signal_norms(model, x_test, scale)
        scored = accuracy_and_mistakes(model, task)
        out = {
            "test_acc": scored["acc"], "mistakes": scored["mistakes"], "diverged": result.diverged,
            "diverged_at": result.diverged_at, "notes": result.notes,
            "curve": {"step": [h["step"] for h in result.history],
                      "val_acc": [100 * h["val_acc"] for h in result.history]},
            "grad_init": grad_init, "first_grad_init": grad_init[0],
            "grad_train": [per_block(r, blocks, PREFIX, "grad_norm/") for r in result.steps_log],
            "skip_ratio_init": signal_init["skip_ratio"], "skip_ratio_final": signal_final["skip_ratio"],
        }
        if residual:
            out["last_skip_ratio"] = signal_final["skip_ratio"][-1]
        if p["layers"] == cfg.depths[0]:
            out["boundary"] = boundary(model, cfg.grid)
        return out

    def prepare(self, cell, seed, ctx):
        """A trained cell's network and spirals. Its seeds do not stack: the per-block gradient norms it logs
        are fit's per-group diagnostics, which fit_stacked does not keep."""
        cfg, p = ctx.cfg, cell.params
        task = spirals(cfg.n_train, 500, 1000, seed=seed, turns=TURNS)
        model = VectorNet(net_config(cfg, p["init"], p["kind"] == "residual", p["scale"]), 2, 2, p["layers"] // 2)
        train = cfg.train.replace(log_every=max(1, cfg.train.steps // cfg.grad_logs), seed=seed, device=ctx.device)
        return Training(model, {s: task.splits[s] for s in ("train", "val")}, classify, train, keep=task)

    def figures(self, results, fig_dir):
        return draw_all(results, fig_dir)

    def measure(self, results):
        d0 = results["config"]["depths"][0]
        ms = []
        for init in results["config"]["inits"]:
            label = f"{d0} layers, init {INIT_LABEL[init]}"
            plain, res = f"plain-{d0}-{init}", f"residual-{d0}-{init}"
            ms.append(Measurement("C000-01", "~50% (chance)", seed_values(results, plain, "test_acc"), "%",
                                  around(50, 5), part=f"plain accuracy, {label}",
                                  note=f"test accuracy after {config_value(results, 'train.steps')} AdamW steps"))
            ratio = [math.log10(a / b) if a > 0 and b > 0 else math.nan for a, b in
                     zip(seed_values(results, plain, "first_grad_init"), seed_values(results, res, "first_grad_init"))]
            ms.append(Measurement(
                "C000-01", "gradients vanish", ratio, "log10", at_most(-2), part=f"first-block gradient, {label}",
                note="log10 of the plain net's first-block gradient norm over the residual net's, at init on the "
                     "same batch; 'vanished' is stated beforehand as at most 1/100 (<= -2)"))
            ms.append(Measurement("C000-02", "~80-90%", seed_values(results, res, "test_acc"), "%", between(80, 90),
                                  part=f"residual accuracy, {label}"))
            for scale, rule, what in ((0.01, at_most(0.1), "ignored"), (100.0, at_least(10), "dominates")):
                ms.append(Measurement(
                    "C000-16", f"skip scale {scale:g} {what}", seed_values(results, f"scale={scale:g}-{d0}-{init}",
                                                                          "last_skip_ratio"),
                    "x", rule, part=f"skip scale {scale:g} {what}, {label}",
                    note="||scale * x|| / ||F(x)|| in the last block on the test inputs after training; "
                         "'ignored' stated as <= 0.1, 'dominates' as >= 10"))
        return ms


def _probe_batch(task) -> tuple[torch.Tensor, ...]:
    """The 256 training points the gradients at init are measured on."""
    return tuple(t[:256] for t in task.splits["train"])


def mismatch_outcome(d_model: int) -> dict:
    """A sublayer that changes the width cannot be added to its input: the error is the finding."""
    x, fx = torch.zeros(4, 1, d_model), torch.zeros(4, 1, d_model // 2)  # (B, T, D) vs (B, T, D/2)
    try:
        add_residual(x, fx, 1.0)
    except BlocklabError as err:
        return {"raised": 1, "error_type": type(err).__name__, "message": str(err)}
    except Exception as err:  # noqa: BLE001 (an unclear error is the outcome to record, not a crash)
        return {"raised": 0, "error_type": type(err).__name__, "message": str(err)}
    return {"raised": 0, "error_type": "", "message": "no error: the shapes were added"}


def probe_depths(cfg: SkipConfig, batch: tuple[torch.Tensor, ...]) -> dict:
    """Gradient per block and stream RMS at init for every probe depth, kind and init (no training)."""
    out: dict[str, dict] = {}
    for init in cfg.inits:
        for kind in ("plain", "residual"):
            for layers in cfg.probe_depths:
                blocks = max(1, layers // 2)
                model = VectorNet(net_config(cfg, init, kind == "residual"), 2, 2, blocks)
                first = per_block(gradient_norms(model, classify, batch), 1, PREFIX)[0]
                out[f"{kind}-{layers}-{init}"] = {"first_grad": first,
                                                  "stream": signal_norms(model, batch[0], None)["stream"]}
    return {"probe": out}
