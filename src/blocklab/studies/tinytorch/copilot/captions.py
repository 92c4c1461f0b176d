"""What each figure of the tinytorch-copilot study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "004_copilot_loss.png": "Training (batch) and validation (held-out files) loss per step (red triangles: the "
                            "source document's values)",
    "004_copilot_decoding.png": "Against step: validation bits per character, and the exact-match and "
                                "target-reproduced rates of held-out line completions per decoding strategy",
    "004_copilot_failure_modes.png": "Against step, per decoding strategy: how many of the source document's demos "
                                     "complete blank, repetitive, and as valid Python lines",
    "004_copilot_samples.png": Caption("The source document's demo prompts completed to the end of the line by "
                                       "each decoding strategy, at the first and the last checkpoint", seeds="first"),
    "004_copilot_speed.png": "Median ms of a forward pass and of a training step at the copilot config: numpy "
                             "engine, PyTorch, PyTorch with fused LayerNorm (dashed red: the source document's "
                             "TinyTorch step)"}
