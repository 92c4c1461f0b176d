"""What the figure of the length-generalization study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

CAPTIONS = {
    "length_generalization.png": "Accuracy (exact match for addition) against test length (operand digits for "
                                 "addition), one panel per task, one line per position encoding; the legend counts "
                                 "the seeds that diverged"}
