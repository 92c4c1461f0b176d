"""What `blocklab list` and shell completion show about the studies, readable without importing them.

Importing a study module imports torch and its figures (seconds); naming the studies must not.
The catalogue holds, in `blocklab list` order, each study's name, one-line description, group and
the module whose import registers it. A test checks that it matches what the studies register,
so the two cannot drift apart. This module imports nothing from blocklab.
"""
from __future__ import annotations

from dataclasses import dataclass

# Named groups of studies; a study joins one by setting `group`. "all" runs every study.
GROUPS = {"building-blocks": "studies 45-51 of seed 000: skip connections, normalization, attention, "
          "encoder-decoder, positional encoding, the capstone and its ablation matrix"}
ALL = "all"


@dataclass(frozen=True)
class Entry:
    """One study as the catalogue names it: the same name, description and group as its class."""

    name: str
    description: str
    group: str  # "" or a key of GROUPS
    module: str  # the module whose import registers the study


CATALOGUE: tuple[Entry, ...] = (
    Entry("addition-heads", "002: 3-digit addition trained to >= 99.9% greedy; decodings, error cascade, "
          "24 heads ablated", "", "blocklab.studies.addition_heads"),
    Entry("char-lm", "issue 8: character GPT on Shakespeare (nanoGPT's CPU config) and on stdlib Python: "
          "loss, samples", "", "blocklab.studies.char_lm"),
    Entry("paper-spec", "003: parameter counts of the paper's base model and the classifier variant, "
          "by component", "", "blocklab.studies.paper_spec"),
    Entry("pe-extrapolation", "002: positional encodings trained on lengths 8-16, tested to 1000 "
          "(sortedness, first-vs-last)", "", "blocklab.studies.pe_extrapolation"),
    Entry("skip-connections", "45: plain vs residual deep networks on spirals, two inits; skip scale and "
          "width failures", "building-blocks", "blocklab.studies.s45_skip_connections"),
    Entry("normalization", "46: no norm vs BatchNorm, LayerNorm, RMSNorm; batch size, pre vs post, eps 0 "
          "and batch 1", "building-blocks", "blocklab.studies.s46_normalization"),
    Entry("attention", "47: attention learns to focus on copy-first; sqrt(d) scaling, temperature, heads, "
          "memory", "building-blocks", "blocklab.studies.s47_attention"),
    Entry("encoder-decoder", "48: autoencoder bottleneck sweep, U-Net skip, failure modes and a seq2seq "
          "reverse task", "building-blocks", "blocklab.studies.s48_encoder_decoder"),
    Entry("positional-encoding", "49: first-vs-last with and without positions; sinusoidal, learned, ALiBi, "
          "RoPE; length 100 to 1000", "building-blocks", "blocklab.studies.s49_positional_encoding"),
    Entry("capstone", "50: a 4-layer pre-norm Transformer from blocks on lookup, with one component removed "
          "at a time", "building-blocks", "blocklab.studies.s50_capstone"),
    Entry("ablation-matrix", "51: first==last with every on/off combination of skip, norm, attention and "
          "positions", "building-blocks", "blocklab.studies.s51_ablation_matrix"),
    Entry("sentiment", "003/issue 8: Rotten Tomatoes snippets, EncoderClassifier vs bag-of-words logistic "
          "regression", "", "blocklab.studies.sentiment"),
    Entry("tinytorch-copilot", "004: Copilot, character-level Python autocomplete on the stdlib, numpy "
          "engine: loss, decoding, speed", "", "blocklab.studies.tinytorch_copilot"),
    Entry("tinytorch-level1", "004: Level 1 memorization (4,624 parameters) on the numpy engine: loss, "
          "patterns right, speed", "", "blocklab.studies.tinytorch_level1"),
    Entry("train-features", "issue 8: gradient checkpointing's memory and time, int8 inference's size and "
          "accuracy", "", "blocklab.studies.train_features"),
    Entry("training-dynamics", "seed 001: epoch-by-epoch training of a 2-block Transformer on "
          "First/Second/Last/Max/Min", "", "blocklab.studies.training_dynamics"),
)


def members(group: str, entries: tuple[Entry, ...]) -> list[str] | None:
    """Study names in `group` (or in "all"), in catalogue order; None when `group` is not a group."""
    if group != ALL and group not in GROUPS:
        return None
    return [e.name for e in entries if group == ALL or e.group == group]
