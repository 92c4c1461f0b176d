"""What each figure of study 49 (positional encoding) plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "49_positional_task.png": "First-vs-last at length 5: test accuracy without positions and with sinusoidal "
                              "positions (dotted: chance), and the CLS query's attention on each token (last layer, "
                              "mean of heads) when Q is FIRST and when it is LAST",
    "49_positional_sinusoidal.png": Caption("The extrapolation model's sinusoidal table (dimension by position) and "
                                            "the cosine similarity of each pair of positions' encodings",
                                            seeds="first"),
    "49_positional_alibi.png": Caption("ALiBi's bias on the CLS query's scores per head, read from the model (one "
                                       "seed), and the trained CLS attention per head (last layer) when Q is FIRST "
                                       "and when it is LAST (all seeds)", seeds="mixed", bands=False),
    "49_positional_comparison.png": "First-vs-last: test accuracy per encoding (and sinusoidal scaled by √d), "
                                    "validation accuracy during training, and accuracy against test length for "
                                    "models trained at the first length (dotted: FIRST right, LAST at chance)",
    "49_positional_rope.png": Caption("Layer 0, head 0 score against the key's offset for one repeated symbol, a "
                                      "line per query position, RoPE and sinusoidal (one seed); for each encoding, "
                                      "the spread of the score across query positions at the same offset, relative "
                                      "to its range (all seeds)", seeds="mixed"),
    "49_pe_failures.png": "Max cosine similarity between positions 0..99 and test accuracy for each sinusoidal "
                          "frequency base; accuracy of the learned table clamped past max_len against test length, "
                          "Q = FIRST and LAST; |PE| / |token embedding| at initialization and trained, unscaled and "
                          "scaled by √d"}
