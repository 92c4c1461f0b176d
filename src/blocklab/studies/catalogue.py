"""What `blocklab list` and shell completion show about the studies, readable without importing them.

Importing a study module imports torch and its figures (seconds); naming the studies must not.
The catalogue is the registry's ordered list of studies: it holds, in source-document order, each
study's name, one-line description, group and the module whose import registers it. A test checks
that it matches what the studies register, so the two cannot drift apart.
This module imports nothing from blocklab.
"""
from __future__ import annotations

from dataclasses import dataclass

# Named groups of studies; a study joins one by setting `group`. "all" runs every study.
GROUPS = {"building-blocks": "studies 45-51 of source document 000: skip connections, normalization, attention, "
          "encoder-decoder, positional encoding, the capstone and its ablation matrix"}
ALL = "all"


@dataclass(frozen=True)
class Entry:
    """One study as the catalogue names it: the same name, description and group as its class."""

    name: str
    description: str
    group: str  # "" or a key of GROUPS
    module: str  # the module whose import registers the study
    seeds: int  # its class's `seeds`: what `blocklab run NAME` runs without --seeds


# seeds (issue 19): at least 5 at full fidelity (what a claim needs before its verdict stops being provisional), 10
# where one seed of the full grid costs about 6 CPU minutes or less (10 seeds within a CPU hour). Costs per seed,
# estimated from the CPU seconds per seed of a `run all --quick` scaled by the full/quick step ratio, or as measured
# in docs/studies/: 10 for skip-connections (~2 min), normalization (~3), attention (~1), encoder-decoder (~2),
# positional-encoding (~4), capstone (~5), ablation-matrix (~6), length-generalization (its grid was cut to fit
# 10 seeds), paper-spec (seconds: counts no seed changes), tinytorch-level1 (~0.5), train-features (~3: 500 s for
# 3 seeds); 5 for training-dynamics (~28 min), addition-heads (~8), pe-extrapolation (~20), sentiment (~25),
# tinytorch-copilot (~12), char-lm (~7), char-speedrun (~35).
CATALOGUE: tuple[Entry, ...] = (  # source-document order: `blocklab list` and `run all` follow it
    # 000: the building blocks, studies 45-51
    Entry("skip-connections", "45: plain vs residual deep networks on spirals, two inits; skip scale and "
          "width failures", "building-blocks", "blocklab.studies.building_blocks.skip_connections.study", seeds=10),
    Entry("normalization", "46: no norm vs BatchNorm, LayerNorm, RMSNorm; batch size, pre vs post, eps 0 "
          "and batch 1", "building-blocks", "blocklab.studies.building_blocks.normalization.study", seeds=10),
    Entry("attention", "47: attention learns to focus on copy-first; sqrt(d) scaling, temperature, heads, "
          "memory", "building-blocks", "blocklab.studies.building_blocks.attention.study", seeds=10),
    Entry("encoder-decoder", "48: autoencoder bottleneck sweep, U-Net skip, failure modes and a seq2seq "
          "reverse task", "building-blocks", "blocklab.studies.building_blocks.encoder_decoder", seeds=10),
    Entry("positional-encoding", "49: first-vs-last with and without positions; sinusoidal, learned, ALiBi, "
          "RoPE; length 100 to 1000", "building-blocks", "blocklab.studies.building_blocks.positional_encoding.study",
          seeds=10),
    Entry("capstone", "50: a 4-layer pre-norm Transformer from blocks on lookup, with one component removed "
          "at a time", "building-blocks", "blocklab.studies.building_blocks.capstone", seeds=10),
    Entry("ablation-matrix", "51: first==last with every on/off combination of skip, norm, attention and "
          "positions", "building-blocks", "blocklab.studies.building_blocks.ablation_matrix", seeds=10),
    # 001: training dynamics of a small Transformer
    Entry("training-dynamics", "source document 001: epoch-by-epoch training of a 2-block Transformer on "
          "First/Second/Last/Max/Min", "", "blocklab.studies.training_dynamics.study", seeds=5),
    # 002: addition heads, length extrapolation
    Entry("addition-heads", "002: 3-digit addition trained to >= 99.9% greedy; decodings, error cascade, "
          "24 heads ablated", "", "blocklab.studies.addition_heads.study", seeds=5),
    Entry("pe-extrapolation", "002: positional encodings trained on lengths 8-16, tested to 1000 "
          "(sortedness, first-vs-last)", "", "blocklab.studies.pe_extrapolation.study", seeds=5),
    Entry("length-generalization", "issue 17: a leaderboard of positional encodings past the training length "
          "on three tasks", "", "blocklab.studies.length_generalization.study", seeds=10),
    # 003: the paper's Transformer
    Entry("paper-spec", "003: parameter counts of the paper's base model and the classifier variant, "
          "by component", "", "blocklab.studies.paper_spec", seeds=10),
    Entry("sentiment", "003/issue 8: Rotten Tomatoes snippets, EncoderClassifier vs bag-of-words logistic "
          "regression", "", "blocklab.studies.sentiment.study", seeds=5),
    # 004: tinytorch, the numpy engine
    Entry("tinytorch-level1", "004: Level 1 memorization (4,624 parameters) on the numpy engine: loss, "
          "patterns right, speed", "", "blocklab.studies.tinytorch.level1", seeds=10),
    Entry("tinytorch-copilot", "004: Copilot, character-level Python autocomplete on the stdlib, numpy "
          "engine: loss, decoding, speed", "", "blocklab.studies.tinytorch.copilot.study", seeds=5),
    # training features and a character LM
    Entry("char-lm", "issue 8: character GPT on Shakespeare (nanoGPT's CPU config) and on stdlib Python: "
          "loss, samples", "", "blocklab.studies.char_lm.study", seeds=5),
    Entry("char-speedrun", "issue 21: nanoGPT's CPU recipe vs blocklab's best at the same size: CPU seconds to its "
          "validation loss, and each change left out", "", "blocklab.studies.char_speedrun.study", seeds=5),
    Entry("train-features", "issue 8: gradient checkpointing's memory and time, int8 inference's size and "
          "accuracy", "", "blocklab.studies.train_features", seeds=10),
)


def members(group: str, entries: tuple[Entry, ...]) -> list[str] | None:
    """Study names in `group` (or in "all"), in catalogue order; None when `group` is not a group."""
    if group != ALL and group not in GROUPS:
        return None
    return [e.name for e in entries if group == ALL or e.group == group]
