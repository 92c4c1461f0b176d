"""Study 47's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass

PROBE_SEED = 20_000
PATTERN, SCORES = "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_attn_scores"
SATURATION_DIM = 64  # the head dim the saturation claims are measured at: GPT-2's and BERT's


@dataclass
class AttentionConfig:
    steps: int = 600
    lr: float = 1e-3
    batch_size: int = 64
    eval_every: int = 50  # also when the CLS attention is recorded
    n_train: int = 2000
    n_test: int = 2000
    n_probe: int = 256
    d_model: int = 32
    temperatures: tuple[float, ...] = (0.05, 20.0)
    multi_heads: int = 4
    head_dims: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
    n_queries: int = 1024
    n_keys: int = 16
    seq_lens: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    seq2seq_steps: int = 300
    seq2seq_lr: float = 3e-3
