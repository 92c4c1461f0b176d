"""`blocklab bench generate`: tokens per second for 256 new tokens, with and without the KV cache.

The nanoGPT-CPU GPT (4 layers, 4 heads, width 128) with a position table long enough for a
64-token prompt and 256 new tokens, batch 1, greedy decoding. Without the cache every new
token runs the whole sequence again (quadratic in its length); with it, one position per
step. Both must produce the same tokens: greedy decoding is deterministic, and the cache
changes how the keys are computed, not their values.
"""
from __future__ import annotations

import torch

from ..nn.models.gpt import GPT
from .gpt import markov_tokens
from .peers import SIZES
from .timing import device_sync, stats_dict, table, time_alternately

PROMPT, NEW_TOKENS = 64, 256


def bench_generate(*, repeats: int, warmup: int, device: torch.device, new_tokens: int = NEW_TOKENS,
                   seed: int = 0) -> dict:
    size = SIZES["nanogpt-cpu"]
    torch.manual_seed(seed)
    model = GPT(size.gpt_config().replace(max_len=PROMPT + new_tokens)).to(device).eval()
    prompt = markov_tokens(size.vocab, PROMPT, seed)[None].to(device)  # (1, PROMPT)
    outputs: dict[str, torch.Tensor] = {}

    def run(use_cache: bool):
        def call() -> None:
            outputs[str(use_cache)] = model.generate(prompt, new_tokens, temperature=0.0, use_cache=use_cache)
        return call

    calls = {"with cache": run(True), "without cache": run(False)}
    stats = time_alternately(calls, repeats=repeats, warmup=warmup, sync=device_sync(device))
    rows = {name: {**stats_dict(s), "tokens_per_s": round(new_tokens / s.median, 1)} for name, s in stats.items()}
    return {"model": "nanogpt-cpu", "prompt": PROMPT, "new_tokens": new_tokens, "batch": 1, "decoding": "greedy",
            "modes": rows, "speedup": round(stats["without cache"].median / stats["with cache"].median, 2),
            "same_tokens": bool(torch.equal(outputs["True"], outputs["False"]))}


def generate_table(result: dict) -> str:
    rows = [[name, f"{m['ms']:.0f} [{m['q1_ms']:.0f}-{m['q3_ms']:.0f}]", f"{m['tokens_per_s']:.1f}"]
            for name, m in result["modes"].items()]
    return (table([f"{result['new_tokens']} new tokens", "ms [quartiles]", "tokens/s"], rows)
            + f"\nthe cache is {result['speedup']:.1f}x faster; same tokens with and without it: "
            + ("yes" if result["same_tokens"] else "NO"))
