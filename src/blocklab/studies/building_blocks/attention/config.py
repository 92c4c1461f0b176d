"""Study 47's knobs and the constants its study and figures share."""
from __future__ import annotations

from dataclasses import dataclass, field

from blocklab.config import Config, NonEmpty, PositiveFloat, PositiveInt
from blocklab.studies.common.reverse import reverse_training
from blocklab.train import TrainConfig

PROBE_SEED = 20_000
PATTERN, SCORES = "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_attn_scores"
SATURATION_DIM = 64  # the head dim the saturation claims are measured at: GPT-2's and BERT's


@dataclass
class AttentionConfig(Config):
    # the copy-first classifiers; eval_every is also when the CLS attention is recorded
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=600, lr=1e-3, batch_size=64, eval_every=50,
                                                                     log_every=None))
    n_train: PositiveInt = 2000
    n_test: PositiveInt = 2000
    n_probe: PositiveInt = 256
    d_model: PositiveInt = 32
    temperatures: NonEmpty[tuple[PositiveFloat, ...]] = (0.05, 20.0)
    multi_heads: PositiveInt = 4
    head_dims: NonEmpty[tuple[PositiveInt, ...]] = (8, 16, 32, 64, 128, 256, 512)
    n_queries: PositiveInt = 1024
    n_keys: PositiveInt = 16
    seq_lens: NonEmpty[tuple[PositiveInt, ...]] = (128, 256, 512, 1024, 2048, 4096)
    seq2seq_train: TrainConfig = field(default_factory=lambda: reverse_training(steps=300, lr=3e-3))  # self vs cross
