"""What each figure of the char-lm study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "char_lm_loss.png": "Training loss (since the last evaluation) and validation loss per iteration, one panel per "
                        "corpus (dashed, on Shakespeare: the nanoGPT README's 1.88)",
    "char_lm_samples.png": Caption("Text each model samples after a newline, one panel per corpus", seeds="first")}
