"""What each figure of study 46 (normalization) plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "46_normalization_training.png": "Training loss per step. Left: each norm type at batch 32 and the main "
                                     "learning rate. Right: no norm and LayerNorm at the main and at the high "
                                     "learning rate (dashed); a diverged run's curve stops",
    "46_normalization_batch_training.png": "Training loss per step of BatchNorm and LayerNorm, one panel per "
                                           "batch size",
    "46_normalization_types.png": "Each norm type at batch 32: test accuracy (dotted: chance, 10%) and the loss "
                                  "spread (std of the detrended loss over the second half of training); the labels "
                                  "give the % of runs that diverged",
    "46_normalization_distributions.png": Caption("Histograms of each block's output (hook_resid_post) on 256 test "
                                                  "sequences, one row per norm type at batch 32, at initialization "
                                                  "and trained; the legend's std is the mean and range over all "
                                                  "seeds", seeds="first"),
    "46_normalization_comparison.png": "Pre-norm vs post-norm LayerNorm at batch 32: log10 gradient norm per block "
                                       "at initialization and the mean of logs during training, and the imbalance "
                                       "|log10(first block / last block)| at initialization and in training",
    "46_normalization_batch_size.png": "Loss spread (second half of training) and test accuracy against batch "
                                       "size, BatchNorm and LayerNorm",
    "46_norm_failures.png": "% of sequences with NaN logits at initialization for LayerNorm, RMSNorm and BatchNorm "
                            "with eps 0 or 1e-5, on inputs whose position 0 is zeroed or ordinary; % change of one "
                            "sequence's logits when its batch-mates change, in train and eval mode; BatchNorm on "
                            "batch 1: its error and test accuracies"}
