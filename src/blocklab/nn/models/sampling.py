"""Choosing the next token from logits: greedy, temperature, top-k, top-p (nucleus)."""
from __future__ import annotations

import torch

from ...errors import BlocklabError


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(B, V) logits -> (B, 1) token ids. temperature 0 means argmax."""
    if temperature < 0:
        raise BlocklabError(f"temperature={temperature!r} is not valid; it must be >= 0 (0 is greedy)")
    if top_k is not None and top_k < 1:
        raise BlocklabError(f"top_k={top_k!r} is not valid; it must be a positive integer or None")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise BlocklabError(f"top_p={top_p!r} is not valid; it must be in (0, 1] or None")
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Drop a token when the tokens before it already hold top_p of the mass; the first always stays.
        drop = probs.cumsum(dim=-1) - probs >= top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)
