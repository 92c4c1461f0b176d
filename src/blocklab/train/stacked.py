"""Seeds trained together: K runs of one configuration as one stacked model.

    results = fit_stacked([build(seed) for seed in seeds], data, loss_fn, cfg, seeds)

Run k is the run `fit(models[k], data, loss_fn, cfg with seed=seeds[k])` makes: the same
initialisation (the caller builds each model under its seed), the same batches (a BatchSampler
per seed, seeded as fit seeds it, on `data`, or on data[k] when each run has its own data) and
the same updates. The K models' weights are stacked on a
new leading axis (torch.func.stack_module_state), and one vmap'd call of loss_fn runs all K
steps at once, so a small model's many small kernels become K times larger ones. Adam, AdamW
and SGD update every element on its own, and Muon each matrix on its own (its iteration acts on
the last two dimensions), so one optimizer over the stacked weights updates each run as its own
optimizer would; the gradient norm, divergence and clipping are per run. The
results equal K fit() calls up to float rounding (batched matrix products add in another order).

Attention runs on its explicit path inside the vmap'd step (vmap has no batching rule for the
fused CPU kernel and would loop over the K runs); the two paths compute the same function.
Each evaluation copies the weights back into the K models and runs `evaluate` on each, as fit
does; progress[k], when given, is called as fit calls its progress, for run k while it trains.
steps_log records hold the loss, metrics, lr and total gradient norm, not fit's per-group
diagnostics. A run that diverges stops counting (its model keeps the weights before the bad
step, as in fit) while the others go on. What fit offers beyond that is refused by name: early
stopping, checkpoints (checkpoint_every; checkpoint_seconds, like fit's without a run_dir, has
nothing to save to), amp, compile, gradient checkpointing, and randomness inside the model
(dropout), which vmap cannot draw as K separate runs would.
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..errors import BlocklabError, ConfigError
from ..nn.attention import MultiHeadAttention
from .config import TrainConfig
from .data import BatchSampler, Split, check_data
from .device import deterministic, resolve_device
from .evaluate import LossFn, evaluate
from .optim import build_optimizer, build_scheduler
from .result import TrainResult
from .trainer import Progress

UNSUPPORTED = {"early_stop_metric": None, "amp": False, "compile": False, "grad_checkpointing": False,
               "tensorboard": False, "checkpoint_every": None}


class _WithLoss(nn.Module):
    """loss_fn around the model, so that functional_call swaps in one run's weights for all of loss_fn."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch: Split) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, metrics = self.loss_fn(self.model, batch)
        return loss, {k: torch.as_tensor(v) for k, v in metrics.items()}


Data = dict[str, Split]


def fit_stacked(models: Sequence[nn.Module], data: Data | Sequence[Data], loss_fn: LossFn, cfg: TrainConfig,
                seeds: Sequence[int], progress: Sequence[Progress] | None = None) -> list[TrainResult]:
    """Train models[k] as fit(models[k], data[k], loss_fn, cfg.replace(seed=seeds[k]), progress=progress[k])
    would, all at once (one `data` dict is every run's); see the module docstring. The trained weights end
    in `models`; one TrainResult per run."""
    datas = [data] * len(models) if isinstance(data, dict) else list(data)
    _check(models, cfg, seeds, datas, progress)
    for d in datas:
        check_data(d)
    device = resolve_device(cfg.device)
    with deterministic(device.type == "cpu"):
        return _Stack(list(models), datas, loss_fn, cfg, list(seeds), device, progress).train()


def _check(models: Sequence[nn.Module], cfg: TrainConfig, seeds: Sequence[int], datas: list[Data],
           progress: Sequence[Progress] | None) -> None:
    if len(models) != len(seeds) or not models:
        raise ConfigError(f"fit_stacked needs one seed per model; got {len(models)} models and {len(seeds)} seeds")
    for what, given in (("data dict", datas), ("progress callback", progress)):
        if given is not None and len(given) != len(models):
            raise ConfigError(f"fit_stacked needs one {what} per model (or one {what} for all); got {len(given)} "
                              f"for {len(models)} models")
    for name, plain in UNSUPPORTED.items():
        if getattr(cfg, name) != plain:
            raise ConfigError(f"TrainConfig.{name}={getattr(cfg, name)!r} is not supported when seeds train "
                              f"together; set it to {plain!r}, or train each seed with fit()")
    kinds = {(type(m), tuple((n, p.shape) for n, p in m.named_parameters())) for m in models}
    if len(kinds) != 1:
        raise ConfigError("fit_stacked needs K models of one architecture (same class, parameter names and shapes)")


class _Stack:
    def __init__(self, models: list[nn.Module], datas: list[Data], loss_fn: LossFn, cfg: TrainConfig,
                 seeds: list[int], device: torch.device, progress: Sequence[Progress] | None) -> None:
        self.models, self.datas, self.cfg, self.seeds, self.device = models, datas, cfg, seeds, device
        self.loss_fn, self.progress = loss_fn, progress
        for m in models:
            m.to(device).train()
        params, self.buffers = stack_module_state(models)  # name -> (K, *shape), each a new leaf
        self.params = {n: p.requires_grad_() for n, p in params.items()}
        # the optimizer groups follow the first model's parameters (weight decay by their own ndim)
        self.optimizer = build_optimizer(models[0], cfg, replace=self.params)
        self.scheduler = build_scheduler(self.optimizer, cfg)
        self.samplers = [BatchSampler(d["train"], cfg.batch_size, seed) for d, seed in zip(datas, seeds)]
        template = _WithLoss(models[0], loss_fn)
        attention = [m for m in models[0].modules() if isinstance(m, MultiHeadAttention)]

        def one_run(params: dict, buffers: dict, batch: Split) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            named = {f"model.{n}": t for n, t in {**params, **buffers}.items()}
            kept = [m.fused for m in attention]
            for m in attention:
                m.fused = False
            try:
                return functional_call(template, named, (batch,))
            finally:
                for m, fused in zip(attention, kept):
                    m.fused = fused

        self.step_all = vmap(one_run, randomness="error")  # (K,) losses and metrics
        K = len(models)
        self.active = torch.ones(K, dtype=torch.bool)
        self.diverged: list[dict[str, Any] | None] = [None] * K
        self.histories: list[list[dict]] = [[] for _ in range(K)]
        self.steps_logs: list[list[dict]] = [[] for _ in range(K)]
        self.train_sums: list[dict[str, float]] = [{} for _ in range(K)]
        self.train_count = [0] * K

    def train(self) -> list[TrainResult]:
        started, cfg, step = time.perf_counter(), self.cfg, 0
        while step < cfg.steps and bool(self.active.any()):
            step += 1
            self._update(step)
            if step == cfg.steps or (cfg.eval_every and step % cfg.eval_every == 0):
                self._evaluate(step)
        self._write_back()
        seconds = time.perf_counter() - started
        return [self._result(k, seconds) for k in range(len(self.models))]

    def _update(self, step: int) -> None:
        cfg = self.cfg
        batches = [s.next() for s in self.samplers]
        batch = tuple(torch.stack(parts).to(self.device) for parts in zip(*batches))  # each (K, B, ...)
        lr = self.last_lr = self.optimizer.param_groups[0]["lr"]
        for p in self.params.values():
            p.grad = None
        try:
            losses, metrics = self.step_all(self.params, self.buffers, batch)  # (K,), {name: (K,)}
        except RuntimeError as err:
            if "randomness" in str(err):
                raise BlocklabError("the model draws random numbers (dropout?), which runs trained together cannot "
                                    "draw as they would alone; set dropout=0, or train each seed with fit()") from None
            if "vmap" not in str(err):
                raise
            first = str(err).strip().splitlines()[0]
            raise BlocklabError(f"the loss function cannot run for K runs at once (torch.func.vmap: {first}); "
                                "return metrics as tensors, not Python numbers, or train each seed with fit") from None
        losses.sum().backward()  # the runs share no weights: each slice gets its own run's gradient
        grads = [p.grad for p in self.params.values()]
        norms = torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0).sqrt()  # (K,)
        loss_list, norm_list = losses.detach().tolist(), norms.tolist()
        for k in range(len(self.models)):
            if self.active[k] and not _healthy(loss_list[k], norm_list[k], cfg):
                grad_norm = norm_list[k] if math.isfinite(loss_list[k]) else None
                self.diverged[k] = {"step": step, "loss": loss_list[k], "grad_norm": grad_norm}
                self._write_back(k)  # the weights before the bad step, as fit keeps them
                self.active[k] = False
        scale = torch.ones_like(norms)
        if cfg.grad_clip is not None:
            scale = torch.where(norms > cfg.grad_clip, cfg.grad_clip / (norms + 1e-6), scale)  # as fit clips
        scale = torch.where(self.active, scale, torch.zeros_like(scale))
        for g in grads:
            g.mul_(scale.view(-1, *[1] * (g.ndim - 1))).nan_to_num_(0.0)  # a stopped run's slice stays finite
        self.optimizer.step()
        self.scheduler.step()
        values = {"loss": loss_list, **{k: v.detach().tolist() for k, v in metrics.items()}}
        logged = cfg.log_every is not None and step % cfg.log_every == 0
        for k in torch.nonzero(self.active).flatten().tolist():
            scalars = {name: v[k] for name, v in values.items()}
            for name, value in scalars.items():
                self.train_sums[k][name] = self.train_sums[k].get(name, 0.0) + value
            self.train_count[k] += 1
            if logged:
                self.steps_logs[k].append({"step": step, **scalars, "lr": lr, "grad_norm": norm_list[k]})
            if self.progress is not None:
                self.progress[k](step, cfg.steps, {"loss": loss_list[k], "lr": lr})

    def _evaluate(self, step: int) -> None:
        for k in torch.nonzero(self.active).flatten().tolist():
            self._write_back(k)
            record = {"step": step}
            record.update({f"train_{n}": v / self.train_count[k] for n, v in self.train_sums[k].items()})
            for split in ("val", "test"):
                if split in self.datas[k]:
                    scores = evaluate(self.models[k], self.datas[k][split], self.loss_fn, self.cfg.batch_size,
                                      self.device)
                    record.update({f"{split}_{n}": v for n, v in scores.items()})
            record["lr"] = self.last_lr  # the lr of the latest update, as fit's evaluation record holds
            self.train_sums[k], self.train_count[k] = {}, 0
            self.histories[k].append(record)

    def _write_back(self, k: int | None = None) -> None:
        """Copy run k's slice (every active run's when None) into its model."""
        runs = [k] if k is not None else torch.nonzero(self.active).flatten().tolist()
        with torch.no_grad():
            for k in runs:
                model = self.models[k]
                named = {**dict(model.named_parameters()), **dict(model.named_buffers())}
                for name, stacked in {**self.params, **self.buffers}.items():
                    named[name].copy_(stacked[k])

    def _result(self, k: int, seconds: float) -> TrainResult:
        bad = self.diverged[k]
        final = bad if bad is not None else dict(self.histories[k][-1])
        notes = [f"trained together with seeds {self.seeds}; the seconds are theirs together"]
        if bad is not None:
            notes.append(f"diverged at step {bad['step']}: loss {bad['loss']}, gradient norm {bad['grad_norm']}")
        return TrainResult(final=final, history=self.histories[k], steps_log=self.steps_logs[k],
                           diverged=bad is not None, diverged_at=bad["step"] if bad is not None else None,
                           steps_done=bad["step"] - 1 if bad is not None else self.cfg.steps, seconds=seconds,
                           device=str(self.device), notes=notes)


def _healthy(loss: float, norm: float, cfg: TrainConfig) -> bool:
    if not math.isfinite(loss) or not math.isfinite(norm):
        return False
    return cfg.diverge_grad_norm is None or norm <= cfg.diverge_grad_norm
