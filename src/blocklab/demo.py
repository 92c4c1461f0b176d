"""The short demo: a tiny GPT learns a repeating sequence in a few seconds."""
from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F

from .config import PositiveFloat, Seed, fit
from .nn import GPT, GPTConfig


def run_demo(seconds: float = 8.0, seed: int = 0, echo: Callable[[str], None] = print) -> list[float]:
    """Trains next-token prediction on 'abcdefgh' repeated, with a random start, for `seconds` (at least
    one step); returns the losses."""
    fit(seconds, PositiveFloat, "seconds")
    fit(seed, Seed, "seed")
    torch.manual_seed(seed)
    period, context = 8, 32
    cfg = GPTConfig(vocab_size=period, d_model=32, n_heads=2, n_layers=2, d_ff=64, max_len=context)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    stream = torch.arange(period).repeat(context // period + 2)
    losses, step, start = [], 0, time.perf_counter()
    echo(f"training a {sum(p.numel() for p in model.parameters()):,}-parameter GPT for {seconds:.0f} s (seed {seed})")
    while step == 0 or time.perf_counter() - start < seconds:
        offsets = torch.randint(0, period, (16,))
        batch = torch.stack([stream[o : o + context + 1] for o in offsets])  # (16, context + 1)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, period), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 25 == 0:
            echo(f"step {step:4d}  loss {loss.item():.4f}")
        step += 1
    chance = torch.log(torch.tensor(float(period)))
    echo(f"done: {step} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f} (ln {period} = {chance:.3f} is chance)")
    return losses
