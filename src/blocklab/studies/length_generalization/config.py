"""The knobs of the length-generalization study (study.py), with their full-fidelity defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config, NonEmpty, NonNegativeInt, PositiveInt
from blocklab.errors import ConfigError
from blocklab.nn.config import TASK_POSITIONS
from blocklab.train import TrainConfig

TASKS = ("sortedness", "first-vs-last", "addition")
SEQUENCE_ENCODINGS = ("none", "sinusoidal", "learned", "alibi", "rope", "t5", "kerple", "fire",
                      "sinusoidal+randomized", "learned+randomized", "rope+randomized", "fire+randomized")
ADDITION_ENCODINGS = (*SEQUENCE_ENCODINGS, "abacus", "coupling")

SequenceEncoding = Literal[SEQUENCE_ENCODINGS]
AdditionEncoding = Literal[ADDITION_ENCODINGS]


@dataclass
class LengthConfig(Config):
    tasks: NonEmpty[tuple[Literal[TASKS], ...]] = TASKS
    # The 10-seed grid: the encodings C002-05, C002-06 and C000-11 name, plus the best of a 1-seed screen of
    # every encoding (docs/studies/length-generalization.md gives its command and its numbers)
    sortedness_encodings: tuple[SequenceEncoding, ...] = ("none", "sinusoidal", "learned", "fire")
    retrieval_encodings: tuple[SequenceEncoding, ...] = ("none", "sinusoidal", "learned", "alibi", "fire")
    addition_encodings: tuple[AdditionEncoding, ...] = ("abacus",)

    # sortedness and first-vs-last: integer tokens 0..n_values-1, mixed training lengths
    n_values: PositiveInt = 8
    train_lengths: NonEmpty[tuple[PositiveInt, ...]] = tuple(range(8, 17))
    test_lengths: NonEmpty[tuple[PositiveInt, ...]] = (8, 16, 32, 64, 128, 256)
    retrieval_far: NonNegativeInt = 1000  # one more first-vs-last length, for C000-11's "works at 1000"; 0 skips it
    n_train: PositiveInt = 20000
    n_val: PositiveInt = 500
    n_eval: PositiveInt = 200  # rows per test length
    width: PositiveInt = 32
    layers: PositiveInt = 2
    heads: PositiveInt = 4

    # addition: operands of 1..addition_train_digits digits, answer reversed, greedy exact match
    addition_train_digits: PositiveInt = 10
    addition_test_digits: NonEmpty[tuple[PositiveInt, ...]] = (10, 15, 20, 30, 40)
    # abacus/coupling: a random offset in [0, k] per training line, so that the index rows a 40-digit test
    # reads (up to 42) are trained: k >= 42 - (addition_train_digits + 2)
    addition_offset_max: NonNegativeInt = 30
    addition_width: PositiveInt = 64
    addition_layers: PositiveInt = 1
    # Tokens x sqrt(width) off: a learned digit-index row then starts as large as a token, not 8x smaller;
    # with the scaling, coupling learned 3-digit addition far more slowly
    addition_scale_embeddings: bool = False
    n_eval_addition: PositiveInt = 100  # problems per test length

    # Each task its own schedule, `train` sortedness's: cosine, no early stopping (stopping at a plateau
    # of the training lengths left quick models at chance, and NoPE's reach at 256 tokens depends on
    # where the schedule ends)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1500, lr=3e-3, batch_size=64, schedule="cosine", grad_clip=1.0, eval_every=250, log_every=None))
    retrieval_train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=600, lr=3e-3, batch_size=64, schedule="cosine", grad_clip=1.0, eval_every=200, log_every=None))
    # Addition: a coupling model sits on a plateau (~23% of answer digits) for thousands of steps before
    # it learns; a higher rate shortens the plateau
    addition_train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=3500, lr=1e-2, batch_size=64, schedule="cosine", warmup_steps=200, grad_clip=1.0, eval_every=500,
        log_every=None))

    def validate(self) -> None:
        super().validate()
        if min(self.train_lengths) < 2:
            raise ConfigError(f"LengthConfig.train_lengths={list(self.train_lengths)} is not valid; "
                              "sortedness needs lengths >= 2")
        # the digit-index rows read at the longest test must have been trained: a test number has
        # (max digits - trained digits) more places than any training one
        reach = max(self.addition_test_digits) - self.addition_train_digits
        indexed = [e for e in self.addition_encodings if e in TASK_POSITIONS]
        if "addition" in self.tasks and indexed and self.addition_offset_max < reach:
            raise ConfigError(f"LengthConfig.addition_offset_max={self.addition_offset_max} is not valid with "
                              f"{', '.join(indexed)}: tests at {max(self.addition_test_digits)} digits after training "
                              f"on {self.addition_train_digits} need offsets up to at least {reach}")
