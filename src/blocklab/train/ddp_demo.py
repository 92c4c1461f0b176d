"""Data-parallel training you can launch: a tiny GPT learns to count, on one process or many.

    torchrun --nproc_per_node 2 -m blocklab.train.ddp_demo --out runs/ddp/2
    torchrun --nproc_per_node 1 -m blocklab.train.ddp_demo --out runs/ddp/1 --compare runs/ddp/2

Each process builds the same model and data from --seed and calls `fit`, which finds the
process group torchrun set up (see distributed.py). --batch-size is the global batch, so
both commands train the same model on the same batches: --compare prints how far this run's
per-step losses are from another run's (float64 makes them equal to ~1e-15).
Rank 0 writes --out/losses.json and the checkpoint; rerunning into the same --out resumes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..errors import BlocklabError
from ..io import atomic_write_text
from ..nn import GPT, GPTConfig
from .config import TrainConfig
from .metrics import accuracy
from .trainer import fit

VOCAB, T = 16, 12


def counting_data(seed: int, n_train: int = 512, n_val: int = 128) -> dict[str, tuple[torch.Tensor, ...]]:
    """Sequences that count up mod VOCAB from a random start: the next token is always learnable."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, VOCAB, (n_train + n_val, 1), generator=g)
    seqs = (start + torch.arange(T + 1)) % VOCAB  # (N, T + 1)
    return {"train": (seqs[:n_train],), "val": (seqs[n_train:],)}


def next_token_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]):
    (seqs,) = batch
    logits = model(seqs[:, :-1])  # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), seqs[:, 1:].reshape(-1))
    return loss, {"acc": accuracy(logits, seqs[:, 1:])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="torchrun --nproc_per_node N -m blocklab.train.ddp_demo",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch, split over the processes")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--out", type=Path, default=Path("runs/ddp"), help="run folder (checkpoint, losses.json)")
    parser.add_argument("--compare", type=Path, help="another run folder: print the largest per-step loss difference")
    args = parser.parse_args(argv)
    try:
        run(args)
    except BlocklabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    model = GPT(GPTConfig(vocab_size=VOCAB, d_model=32, n_heads=2, n_layers=2, d_ff=64, max_len=T))
    model = model.to(getattr(torch, args.dtype))
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, log_every=1,
                      eval_every=max(1, args.steps // 4))
    result = fit(model, counting_data(args.seed), next_token_loss, cfg, run_dir=args.out)
    if dist.is_initialized() and dist.get_rank() != 0:
        return
    world = dist.get_world_size() if dist.is_initialized() else 1
    losses = [r["loss"] for r in result.steps_log]
    record = {"world_size": world, "batch_size": args.batch_size, "dtype": args.dtype, "seed": args.seed,
              "losses": losses, "final": result.final}
    atomic_write_text(args.out / "losses.json", json.dumps(record) + "\n")
    print(f"{world} process(es), {args.batch_size // world} rows each of a global batch of {args.batch_size}: "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, val_acc {result.final['val_acc']:.3f} in {result.seconds:.1f} s")
    if args.compare is not None:
        other = _losses(args.compare / "losses.json")
        if len(other) != len(losses):
            raise BlocklabError(f"{args.compare} holds {len(other)} steps, this run {len(losses)}; "
                                "run the same --steps")
        diff = max(abs(a - b) for a, b in zip(losses, other))
        print(f"largest per-step loss difference from {args.compare}: {diff:.3g}")


def _losses(path: Path) -> list[float]:
    try:
        return json.loads(path.read_text())["losses"]
    except FileNotFoundError:
        raise BlocklabError(f"--compare: {path} does not exist; run the other command first") from None


if __name__ == "__main__":
    sys.exit(main())
