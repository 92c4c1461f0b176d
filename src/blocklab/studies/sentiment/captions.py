"""What each figure of the sentiment study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

CAPTIONS = {
    "sentiment_accuracy.png": "Test accuracy of each model on Rotten Tomatoes snippets (dashed: the majority "
                              "class), and the change in test accuracy under int8 dynamic quantization",
    "sentiment_training.png": "Validation accuracy per training step, one line per model; the legend counts the "
                              "seeds that diverged",
    "sentiment_embedding_scale.png": "RMS over non-pad tokens of the token part and of the position part of the "
                                     "embedding, at initialization and trained, per model"}
