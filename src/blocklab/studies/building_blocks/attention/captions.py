"""What each figure of study 47 (attention) plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "47_attention_learned.png": "Copy-first-token task, one head: the CLS query's attention weight on each token "
                                "over training, and validation accuracy (dashed: chance, 20%)",
    "47_attention_mechanism.png": Caption("One probe input through the trained head: the scaled scores q·k/√d and "
                                          "their row softmax (one seed), and the class probabilities it outputs "
                                          "(all seeds)", seeds="mixed"),
    "47_attention_multihead.png": Caption("The multi-head model's attention pattern per head on the probe input "
                                          "(one seed), and each head's CLS weight on x1, heads ranked from most to "
                                          "least (all seeds)", seeds="mixed"),
    "47_attention_patterns.png": Caption("Attention patterns averaged over the probe inputs (rows: queries): at "
                                         "initialization, trained, trained without 1/√d, at each softmax "
                                         "temperature, and trained with identical Q and K", bands=False),
    "47_attention_scaling.png": "Random unit-variance q and k (no training): softmax entropy, largest weight and "
                                "norm of the scores' gradient against head dimension d, with and without 1/√d; "
                                "dashed: the entropy of a uniform softmax",
    "47_attention_self_cross.png": Caption("A Seq2Seq model reversing 6 tokens: encoder self-attention, causal "
                                           "decoder self-attention and cross-attention (decoder to encoder) by "
                                           "position; the title gives the exact-sequence accuracy", bands=False),
    "47_attention_failures.png": "Largest softmax weight and scores' gradient norm with and without √d scaling at "
                                 "one head dimension; peak memory and time of one forward against sequence length, "
                                 "explicit and fused paths (dotted: a T² guide); CLS entropy with learned vs "
                                 "identical Q and K; trained CLS entropy at each temperature"}
