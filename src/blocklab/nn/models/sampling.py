"""Choosing the next token from logits: greedy, temperature, top-k, top-p (nucleus); beam search."""
from __future__ import annotations

from typing import Annotated, Callable, Optional

import torch

from ...config import NonNegativeFloat, NonNegativeInt, PositiveInt, Range, fit
from ...errors import BlocklabError

# Sampling from the distribution the model learned, as nanoGPT's and minGPT's generate() do:
# greedy decoding (0) makes a character model loop ("the the the"), and a seeded generator
# keeps sampled text reproducible. Every generate in blocklab and `blocklab generate` use it.
DEFAULT_TEMPERATURE = 1.0


def sample_next(
    logits: torch.Tensor,
    temperature: float = DEFAULT_TEMPERATURE,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(B, V) logits -> (B, 1) token ids. temperature 0 means argmax."""
    check_sampling(temperature, top_k, top_p)
    if not bool(torch.isfinite(logits).all()):  # else multinomial fails, or argmax picks at random among NaNs
        raise BlocklabError("the model's next-token logits are not finite (NaN or inf): its weights hold NaN or "
                            "inf values, as a diverged run's do, so it cannot generate")
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


def check_sampling(temperature: float, top_k: int | None = None, top_p: float | None = None,
                   max_new_tokens: int | None = None) -> None:
    """A ConfigError (a ValueError) naming the first argument of a generate call that is not valid.

    Each engine's generate checks before its first step: a NaN temperature would otherwise reach
    torch.multinomial as NaN probabilities, and a negative token count would return the prompt unchanged.
    """
    if max_new_tokens is not None:
        fit(max_new_tokens, NonNegativeInt, "max_new_tokens")
    fit(temperature, NonNegativeFloat, "temperature")
    fit(top_k, Optional[PositiveInt], "top_k")
    fit(top_p, Optional[Annotated[float, Range(gt=0, le=1)]], "top_p")


def beam_search(
    next_logp: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    steps: int,
    beam_size: int = 4,
    eos_id: int | None = None,
    length_penalty: float = 0.0,
) -> torch.Tensor:
    """The best continuation (B, steps) of start (B, P) by summed log-probability.

    next_logp maps the beams so far (B*K, L) to log-probabilities of their next token (B*K, V);
    each model supplies its own (a GPT reads the beams, a decoder also reads its memory).
    Finished beams (ending in eos_id) keep their score, divided by length^length_penalty when
    ranked; they are padded with EOS to the longest beam's length.
    """
    B, K, P, device = start.shape[0], beam_size, start.shape[1], start.device
    seqs = start.repeat_interleave(K, dim=0)  # (B*K, P)
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive so the first step has no duplicates
    finished = torch.zeros(B * K, dtype=torch.bool, device=device)
    for _ in range(steps):
        logp = next_logp(seqs)  # (B*K, V)
        V = logp.shape[-1]
        if eos_id is not None:
            # A finished beam can only extend with EOS, at no cost.
            frozen = torch.full_like(logp, float("-inf"))
            frozen[:, eos_id] = 0.0
            logp = torch.where(finished[:, None], frozen, logp)
        scores, flat = (scores.reshape(-1, 1) + logp).reshape(B, K * V).topk(K, dim=-1)  # (B, K)
        beam = flat // V + torch.arange(B, device=device)[:, None] * K
        token = flat % V
        seqs = torch.cat([seqs[beam.reshape(-1)], token.reshape(-1, 1)], dim=1)
        if eos_id is not None:
            finished = finished[beam.reshape(-1)] | (token.reshape(-1) == eos_id)
            if bool(finished.all()):
                break
    generated = seqs[:, P:]  # (B*K, L)
    ranked = scores
    if eos_id is not None:
        is_eos = generated == eos_id
        full = torch.full_like(is_eos[:, 0], generated.shape[1], dtype=torch.long)
        lengths = torch.where(is_eos.any(-1), is_eos.float().argmax(-1) + 1, full)
        ranked = scores / lengths.reshape(B, K).float() ** length_penalty
    best = ranked.argmax(dim=-1) + torch.arange(B, device=device) * K
    return generated[best]
