"""What each figure of the length-extrapolation study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "extrapolation_curves.png": "Accuracy against test length for each encoding, one panel per task (shaded: the "
                                "training lengths; dotted: chance)",
    "learned_position_embeddings.png": Caption("The learned position table (position by model dimension) at "
                                               "initialization and trained, one row per task; the titles give the "
                                               "neighbour structure score's mean over all seeds", seeds="first"),
    "position_similarity.png": Caption("How alike positions are under each encoding of the sortedness models "
                                       "(position by position; dashed: the end of the training range)",
                                       seeds="first"),
    "first_layer_attention.png": Caption("Block 0 attention of each sortedness model, mean over heads and 64 inputs "
                                         "of length 32, trained to length 16 (dashed: the end of the training "
                                         "range)", seeds="first"),
    "pe_failure_modes.png": "Sortedness: validation accuracy during training per encoding; for the models without "
                            "positions, the largest logit change when the input is shuffled (dots: seeds); accuracy "
                            "by kind of row (sorted, adjacent swap, far swap, moved) at the longest length"}
