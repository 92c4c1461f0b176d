"""Data-parallel training with torch.distributed: what `fit` does differently under torchrun.

    torchrun --nproc_per_node 2 -m blocklab.train.ddp_demo --steps 200

Every process runs the same script with the same model seed, data and TrainConfig, and `fit`
finds the process group by itself (it joins the one torchrun describes in WORLD_SIZE, RANK,
MASTER_ADDR and MASTER_PORT if the script has not initialized one). Then:

- the model is wrapped in DistributedDataParallel (gloo on CPU, nccl on CUDA), which averages
  gradients over the processes after each backward;
- `batch_size` stays the GLOBAL batch: every process draws the same permutation from the
  same seeded sampler and takes its own `batch_size / world_size` consecutive rows of each
  batch. With a loss that is a mean over rows, the mean of the processes' gradients is the
  gradient of the whole batch, so a run on N processes follows the one-process run with the
  same batch_size up to floating-point rounding (exactly so in float64, to ~1e-7 in float32);
- the logged loss and metrics of a step are averaged over processes; evaluation splits each
  split into one contiguous shard per process and sums the results, so every process holds
  the same evaluation record and takes the same early-stopping decision;
- rank 0 alone writes the checkpoint (from the unwrapped module) and metrics.jsonl, and calls
  the callbacks and the progress function.

Every process keeps the same seed, so the generators (dropout, a loss_fn's sampling) are in
the same state on every rank and rank 0's checkpoint resumes all of them exactly. What does
not carry over: BatchNorm normalizes each process's shard (its statistics are not synced);
a loss_fn that reaches model attributes other than the forward call must unwrap them
from `model.module`, because under DDP it receives the wrapper, and every parameter must
get a gradient in every step (DDP's default; a model with an unused branch fails at step 2).
"""
from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import BlocklabError
from .data import Split
from .evaluate import LossFn, evaluate


def world_from_env() -> int:
    """The WORLD_SIZE torchrun set for this process; 1 when it was not launched by torchrun."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(raw)
    except ValueError:
        raise BlocklabError(f"environment variable WORLD_SIZE={raw!r} is not an integer") from None


def init_from_env(device: torch.device) -> None:
    """Join the process group torchrun describes: nccl on CUDA (one GPU per LOCAL_RANK), else gloo."""
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise BlocklabError(f"WORLD_SIZE={world_from_env()} but {', '.join(missing)} not set; "
                            "launch with torchrun, or call torch.distributed.init_process_group yourself")
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    atexit.register(_leave)


def _leave() -> None:
    if dist.is_initialized():  # the script may have left the group itself
        dist.destroy_process_group()


class Local:
    """One process: the trainer's hooks do nothing. The data-parallel class below overrides them."""

    rank, world_size, is_main = 0, 1, True

    def __init__(self, model: nn.Module) -> None:
        self.net = model  # what the training step calls: the model, or its DDP wrapper

    def shard(self, batch: Split) -> Split:
        return batch

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        return values

    def evaluate(self, model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int, device: torch.device,
                 amp: bool) -> dict[str, float]:
        return evaluate(model, split, loss_fn, batch_size, device, amp)

    def barrier(self) -> None:
        pass


class DataParallel(Local):
    """One of world_size processes training one model on shards of each global batch."""

    def __init__(self, model: nn.Module, device: torch.device, batch_size: int) -> None:
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0
        if batch_size % self.world_size:
            raise BlocklabError(
                f"TrainConfig.batch_size={batch_size} (the global batch; the whole train split when that is smaller) "
                f"does not split evenly over {self.world_size} processes; choose a multiple of {self.world_size}"
            )
        per_rank = batch_size // self.world_size
        self.rows = slice(self.rank * per_rank, (self.rank + 1) * per_rank)
        ids = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else None
        super().__init__(DistributedDataParallel(model, device_ids=ids))  # broadcasts rank 0's weights
        self.device = device

    def shard(self, batch: Split) -> Split:
        return tuple(t[self.rows] for t in batch)  # (batch_size / world_size, ...)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each value averaged over the processes (every process passes the same keys in the same order)."""
        keys = list(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return dict(zip(keys, (t / self.world_size).tolist()))

    def evaluate(self, model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int, device: torch.device,
                 amp: bool) -> dict[str, float]:
        """The split cut into one contiguous shard per process, evaluated there and summed: the
        row-weighted mean over the whole split. Runs the unwrapped model, so no DDP collective
        depends on how many batches a shard has."""
        n = split[0].shape[0]
        if n < self.world_size:  # too few rows to give every process one
            return evaluate(model, split, loss_fn, batch_size, device, amp)
        lo, hi = self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size
        scores = evaluate(model, tuple(t[lo:hi] for t in split), loss_fn, batch_size, device, amp)
        keys = list(scores)
        sums = torch.tensor([scores[k] * (hi - lo) for k in keys], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(sums)
        return dict(zip(keys, (sums / n).tolist()))

    def barrier(self) -> None:
        dist.barrier()

    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


def parallel(model: nn.Module, device: torch.device, batch_size: int) -> Local:
    """The trainer's view of the processes: DataParallel inside a process group of two or more, else Local.

    A process torchrun started with WORLD_SIZE > 1 joins its group here, if the script did not.
    """
    if not dist.is_available():
        return Local(model)
    if not dist.is_initialized() and world_from_env() > 1:
        init_from_env(device)
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return Local(model)
    return DataParallel(model, device, batch_size)
