"""Parameter counts by component, for `blocklab info` and the seeds' parameter claims."""
from __future__ import annotations

from collections import Counter

from torch import nn

COMPONENTS = ("embeddings", "positions", "attention", "mean mixer", "feed-forward", "norms", "output head", "other")


def component_of(name: str) -> str:
    """Map a parameter name to the component it belongs to."""
    if ".pos." in name or name.startswith("pos."):
        return "positions"
    if ".tok." in name or name.startswith("tok.") or name == "cls":
        return "embeddings"
    if ".attn.proj." in name:  # MeanMixer's only weights: the attention-free ablation is not attention
        return "mean mixer"
    if ".attn." in name or ".cross_attn." in name:
        return "attention"
    if ".mlp." in name:
        return "feed-forward"
    if "norm" in name:
        return "norms"
    if name.startswith(("lm_head", "head")):
        return "output head"
    return "other"


def parameter_summary(model: nn.Module) -> dict[str, int]:
    """Counts each shared (tied) tensor once, under the first name that owns it."""
    counts: Counter[str] = Counter()
    for name, p in model.named_parameters():  # named_parameters already skips repeats of tied tensors
        counts[component_of(name)] += p.numel()
    out = {c: counts[c] for c in COMPONENTS if counts[c]}
    out["total"] = sum(counts.values())
    return out
