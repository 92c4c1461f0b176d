"""The training loop every study uses: `fit` and `evaluate`.

One step: batch -> loss_fn (under bf16 autocast when amp is on; on the torch.compile'd model when
compile is on) -> finite loss? -> backward
-> gradient norms, total and per group -> diverged? -> clip -> optimizer and scheduler step.
Then, when due: the step record (log_every), an evaluation (eval_every and at the end), the
early-stopping check, a checkpoint (every checkpoint_every steps, after checkpoint_seconds of wall
time since the last one, and at the end), callbacks, progress.

Early stopping keeps the last weights, not the best: the model after `fit` is the one at the
evaluation that stopped the run, and a note names the step where the best value was seen.
Divergence is an outcome: the bad step's update is not applied, and `fit` returns normally.
A model that torch.compile cannot compile trains eagerly, with a note and a warning that say why.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..errors import BlocklabError
from ..io import atomic_write_text, jsonable
from ..nn.blocks import set_grad_checkpointing
from .checkpoint import (
    CHECKPOINT,
    MODEL,
    OPTIM,
    STATE,
    Checkpoint,
    load_model_tensors,
    load_optimizer_tensors,
    read_checkpoint,
    save_checkpoint,
)
from .config import RESUMABLE, TrainConfig
from .data import BatchSampler, Split, check_data
from .device import amp_note, autocast, deterministic, resolve_device, rng_state, seed_everything, set_rng_state
from .distributed import parallel
from .evaluate import LossFn
from .metrics import LayerGroups
from .optim import build_optimizer, build_scheduler
from .result import TrainResult, TrainState
from .tensorboard import tensorboard_callbacks

Callback = Callable[[str, TrainState], None]
Progress = Callable[[int, int, dict[str, Any]], None]


def fit(
    model: nn.Module,
    data: dict[str, Split],
    loss_fn: LossFn,
    cfg: TrainConfig,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    progress: Progress | None = None,
) -> TrainResult:
    """Train `model` on data["train"] for cfg.steps updates; see the module docstring.

    With a run_dir, a checkpoint there is resumed (or, if finished, its result returned with
    its weights and the random generators' states loaded, as the run left them, without
    training or callbacks). The caller seeds and builds the model; `fit` seeds everything
    else from cfg.seed.
    """
    check_data(data)
    for cb in callbacks:
        if not callable(cb):
            raise BlocklabError(f"callback {cb!r} is not callable; a callback is called as cb(event, state)")
    run_dir = None if run_dir is None else Path(run_dir)
    ckpt = read_checkpoint(run_dir / CHECKPOINT) if run_dir is not None else None
    if ckpt is not None:
        _check_same_config(ckpt, cfg)
        if ckpt.state.get("result") is not None:
            load_model_tensors(model, ckpt.model, ckpt.directory / MODEL)
            # what the caller draws after fit (test data, sampling) must not depend on where a kill fell
            set_rng_state(ckpt.state["rng"], resolve_device(cfg.device))
            return TrainResult.from_dict(ckpt.state["result"])
    callbacks = [*callbacks, *tensorboard_callbacks(cfg.tensorboard, run_dir)]
    if cfg.grad_checkpointing:
        set_grad_checkpointing(model, True)  # left on after fit: it changes memory and time, never values
    device = resolve_device(cfg.device)
    with deterministic(device.type == "cpu"):
        seed_everything(cfg.seed)
        run = _Run(model, data, loss_fn, cfg, device, run_dir, list(callbacks), progress)
        if ckpt is not None:
            run.restore(ckpt)
        return run.train()


def _check_same_config(ckpt: Checkpoint, cfg: TrainConfig) -> None:
    # A field the checkpoint lacks was added to TrainConfig after it was written; its default keeps the old
    # behaviour, so the run is the same one when cfg leaves it at the default.
    stored, given, default = ckpt.state.get("config", {}), cfg.to_dict(), TrainConfig().to_dict()
    changed = [f"{k}: {stored[k]!r} there, {v!r} here" if k in stored
               else f"{k}: absent there (default {default[k]!r}), {v!r} here"
               for k, v in given.items() if k not in RESUMABLE and stored.get(k, default[k]) != v]
    if changed:
        raise BlocklabError(
            f"{ckpt.directory} holds a checkpoint of a run with another config ({'; '.join(changed)}); "
            "use another run directory, or delete that checkpoint to start over"
        )


class _Run:
    """The state of one training run, all of it saved in a checkpoint."""

    # Plain attributes that go into state.json as they are.
    BOOKKEEPING = ("step", "seconds", "history", "steps_log", "train_sums", "train_count", "best", "best_step",
                   "evals_since_best", "notes")

    def __init__(self, model, data, loss_fn, cfg, device, run_dir, callbacks, progress) -> None:
        self.model, self.data, self.loss_fn, self.cfg, self.device = model.to(device), data, loss_fn, cfg, device
        self.callbacks, self.progress = callbacks, progress
        note = amp_note(cfg.amp, device)
        self.amp = cfg.amp and note is None
        self.notes = [note] if note else []
        self.optimizer = build_optimizer(model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg)
        self.groups = LayerGroups(model)
        self.sampler = BatchSampler(data["train"], cfg.batch_size, cfg.seed)
        self.par = parallel(self.model, device, self.sampler.batch_size)  # one process, or DDP under torchrun
        self.compiled = torch.compile(self.par.net) if cfg.compile else None  # compiles at its first call
        self.step, self.seconds = 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.steps_log: list[dict[str, Any]] = []
        self.train_sums: dict[str, float] = {}  # loss and metrics summed since the last evaluation
        self.train_count = 0
        self.best: float | None = None
        self.best_step = 0
        self.evals_since_best = 0
        self.ckpt_dir = run_dir / CHECKPOINT if run_dir is not None else None
        self.saved_at = time.perf_counter()  # the wall clock of the last checkpoint, for checkpoint_seconds
        self.metrics_path = run_dir / "metrics.jsonl" if run_dir is not None else None

    # ------------------------------------------------------------------ checkpoint state
    def _save(self, result: TrainResult | None, seconds: float) -> None:
        if not self.par.is_main:  # every rank holds the same state; rank 0 writes it
            return
        state = {
            **{k: getattr(self, k) for k in self.BOOKKEEPING}, "seconds": seconds, "config": self.cfg.to_dict(),
            "rng": rng_state(self.device), "sampler": self.sampler.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "result": dataclasses.asdict(result) if result is not None else None,
        }
        save_checkpoint(self.ckpt_dir, self.model, self.optimizer, state)
        self.saved_at = time.perf_counter()

    def restore(self, ckpt: Checkpoint) -> None:
        load_model_tensors(self.model, ckpt.model, ckpt.directory / MODEL)
        try:
            load_optimizer_tensors(self.optimizer, ckpt.optim)
        except (ValueError, KeyError, RuntimeError) as err:
            raise BlocklabError(f"checkpoint file {ckpt.directory / OPTIM} does not fit this optimizer: {err}") \
                from None
        state = ckpt.state
        try:
            self.scheduler.load_state_dict(state["scheduler"])
            # The optimizer's lr is set by the scheduler's next step; until then it is the last one.
            for group, lr in zip(self.optimizer.param_groups, self.scheduler.get_last_lr()):
                group["lr"] = lr
            self.sampler.load_state_dict(state["sampler"])
            set_rng_state(state["rng"], self.device)
            fresh_notes = self.notes  # this session's (an amp note for a new device) follow the stored ones
            for key in self.BOOKKEEPING:
                setattr(self, key, state[key])
            self.notes += [n for n in fresh_notes if n not in self.notes]
        except (KeyError, TypeError, ValueError) as err:
            raise BlocklabError(
                f"checkpoint file {ckpt.directory / STATE} is corrupt ({type(err).__name__}: {err}); "
                f"delete {ckpt.directory} to start the run over"
            ) from None
        self.notes.append(f"resumed from a checkpoint at step {self.step}")

    # ------------------------------------------------------------------ the loop
    def train(self) -> TrainResult:
        cfg, started = self.cfg, time.perf_counter()
        was_training = self.model.training
        self.model.train()
        if self.metrics_path is not None and self.par.is_main:  # drop lines written after the resumed checkpoint
            atomic_write_text(self.metrics_path, "".join(_json_line(r) for r in self.steps_log))
        diverged: dict[str, Any] | None = None
        stop = False
        while self.step < cfg.steps and not stop:
            record, diverged = self._update(self.step + 1)
            if diverged is not None:
                break
            self.step += 1
            stop = self._after_update(record)
            finishing = stop or self.step == cfg.steps  # the final checkpoint follows the loop
            if self.ckpt_dir is not None and not finishing and self._checkpoint_due():
                self._save(None, self.seconds + time.perf_counter() - started)
            self._emit("step", record)
            if self.progress is not None and self.par.is_main:
                self.progress(self.step, cfg.steps, {"loss": record["loss"], "lr": record["lr"]})
        if diverged is not None:
            self.notes.append(f"diverged at step {diverged['step']}: loss {diverged['loss']}, "
                              f"gradient norm {diverged['grad_norm']}")
        result = TrainResult(
            final=diverged if diverged is not None else dict(self.history[-1]),
            history=self.history, steps_log=self.steps_log, diverged=diverged is not None,
            diverged_at=diverged["step"] if diverged is not None else None, early_stopped=stop,
            steps_done=self.step, seconds=self.seconds + time.perf_counter() - started,
            device=str(self.device), notes=self.notes,
        )
        if self.ckpt_dir is not None:
            self._save(result, result.seconds)
        self.par.barrier()  # no rank returns before rank 0's final checkpoint is written
        self.model.train(was_training)
        self._emit("end", result.final)
        return result

    def _checkpoint_due(self) -> bool:
        cfg = self.cfg
        if cfg.checkpoint_every is not None and self.step % cfg.checkpoint_every == 0:
            return True
        return cfg.checkpoint_seconds is not None and time.perf_counter() - self.saved_at >= cfg.checkpoint_seconds

    def _update(self, step: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """One optimizer update -> (step record, None), or (None, divergence record) without updating."""
        cfg = self.cfg
        batch = tuple(t.to(self.device) for t in self.par.shard(self.sampler.next()))
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.amp):
            loss, metrics = self._loss(batch)
        means = self.par.mean({"loss": float(loss.detach()), **{k: float(v) for k, v in metrics.items()}})
        loss_value = means.pop("loss")
        if not math.isfinite(loss_value):
            return None, {"step": step, "loss": loss_value, "grad_norm": None}
        loss.backward()
        norms = self.groups.grad_norms()  # (P,)
        total = float(torch.linalg.vector_norm(norms))
        if not math.isfinite(total) or (cfg.diverge_grad_norm is not None and total > cfg.diverge_grad_norm):
            return None, {"step": step, "loss": loss_value, "grad_norm": total}
        if cfg.grad_clip is not None and total > cfg.grad_clip:
            scale = cfg.grad_clip / (total + 1e-6)  # the epsilon torch's clip_grad_norm_ uses
            for p in self.groups.params:
                if p.grad is not None:
                    p.grad.mul_(scale)
        logged = cfg.log_every is not None and step % cfg.log_every == 0
        before = self.groups.snapshot() if logged else None
        self.optimizer.step()
        self.scheduler.step()
        scalars = {"loss": loss_value, **means}
        for key, value in scalars.items():
            self.train_sums[key] = self.train_sums.get(key, 0.0) + value
        self.train_count += 1
        record = {"step": step, **scalars, "lr": lr}
        if before is not None:
            record["grad_norm"] = total
            record.update({f"grad_norm/{g}": v for g, v in self.groups.by_group(norms).items()})
            record.update({f"update_ratio/{g}": v for g, v in self.groups.update_ratios(before).items()})
        return record, None

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, Any]]:
        if self.compiled is not None:
            try:
                return self.loss_fn(self.compiled, batch)
            except Exception as err:  # a backend or an op torch.compile cannot handle
                self.compiled = None
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                note = f"compile=True failed ({type(err).__name__}: {first}); training without torch.compile"
                self.notes.append(note)
                warnings.warn(note, stacklevel=2)
        return self.loss_fn(self.par.net, batch)

    def _after_update(self, record: dict[str, Any]) -> bool:
        """Bookkeeping after a good update; True when early stopping ends the run."""
        cfg = self.cfg
        if "grad_norm" in record:
            self.steps_log.append(record)
            if self.metrics_path is not None and self.par.is_main:
                with open(self.metrics_path, "a", encoding="utf-8") as f:
                    f.write(_json_line(record))
        if not (self.step == cfg.steps or (cfg.eval_every and self.step % cfg.eval_every == 0)):
            return False
        evaluation = {"step": self.step}
        evaluation.update({f"train_{k}": v / self.train_count for k, v in self.train_sums.items()})
        for split in ("val", "test"):
            if split in self.data:
                scores = self.par.evaluate(self.model, self.data[split], self.loss_fn, cfg.batch_size, self.device,
                                           self.amp)
                evaluation.update({f"{split}_{k}": v for k, v in scores.items()})
        evaluation["lr"] = record["lr"]
        self.train_sums, self.train_count = {}, 0
        self.history.append(evaluation)
        self._emit("eval", evaluation)
        return self._early_stop(evaluation)

    def _early_stop(self, evaluation: dict[str, Any]) -> bool:
        cfg, metric = self.cfg, self.cfg.early_stop_metric
        if metric is None:
            return False
        if metric not in evaluation:
            raise BlocklabError(
                f"TrainConfig.early_stop_metric={metric!r} is not in the evaluation record; "
                f"choose one of: {', '.join(repr(k) for k in evaluation if k not in ('step', 'lr'))}"
            )
        value = evaluation[metric]
        better = self.best is None or (value > self.best if cfg.early_stop_mode == "max" else value < self.best)
        if better:
            self.best, self.best_step, self.evals_since_best = value, self.step, 0
            return False
        self.evals_since_best += 1
        if self.evals_since_best < cfg.patience:
            return False
        self.notes.append(f"early stop at step {self.step}: {metric} has not improved on {self.best} "
                          f"(step {self.best_step}) for {cfg.patience} evaluations; the last weights are kept")
        return True

    def _emit(self, event: str, record: dict[str, Any]) -> None:
        if not self.par.is_main:
            return
        state = TrainState(self.model, self.optimizer, self.cfg, self.step, self.history, self.steps_log, record)
        for cb in self.callbacks:
            cb(event, state)


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(jsonable(record)) + "\n"
