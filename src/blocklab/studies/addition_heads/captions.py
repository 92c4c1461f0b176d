"""What each figure of the addition-heads study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "decoding_comparison.png": "Held-out accuracy of each model: teacher-forced token accuracy and exact match, "
                               "greedy exact match, and beam-search exact match at each width (dots: seeds)",
    "training_greedy_accuracy.png": "Validation greedy exact match during training, one line per model (dashed: "
                                    "99%)",
    "error_cascade.png": Caption("Held-out digit accuracy by answer position, greedy (solid) and teacher-forced "
                                 "(dashed); the share of failed problems that are wrong again at a later digit, "
                                 "from the model's own prefix and from the true one, for the final model and for "
                                 "the first checkpoint at the under-trained token accuracy", bands=False),
    "accuracy_by_carries.png": "Held-out greedy exact match by the number of carries in the problem, one line per "
                               "model",
    "head_importance.png": Caption("Greedy exact match lost when each head alone is zero- or mean-ablated, one "
                                   "panel per encoder-decoder model (bars: the mean; dots: each seed; dashed: 1% of "
                                   "the baseline)", bands=False),
    "pruning_curve.png": "Held-out greedy exact match as heads are removed one at a time in greedy order (zero "
                         "ablation), the pruned model evaluated at every step (shaded: Michel et al. 2019's 20-40% "
                         "prunable)",
    "column_alignment.png": Caption("For each attention module (rows, with chance) and head (columns): the "
                                    "attention weight on the digits of the column being answered", bands=False),
    "attention_*.png": Caption("Every attention module's and head's pattern on one probe sum (rows: queries, "
                               "columns: keys), with the model's answer, for the model the claims use",
                               seeds="first")}
