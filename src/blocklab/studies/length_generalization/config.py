"""The knobs of the length-generalization study (study.py), with their full-fidelity defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config, NonEmpty, NonNegativeInt, PositiveInt
from blocklab.errors import ConfigError
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
    sortedness_encodings: tuple[SequenceEncoding, ...] = (
        "none", "sinusoidal", "learned", "alibi", "rope", "t5", "kerple", "fire", "rope+randomized")
    retrieval_encodings: tuple[SequenceEncoding, ...] = ("none", "sinusoidal", "learned", "alibi", "rope", "fire")
    addition_encodings: tuple[AdditionEncoding, ...] = ("none", "rope", "abacus", "coupling")

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
    addition_offset_max: NonNegativeInt = 40  # abacus/coupling: a random offset in [0, k] per training line
    addition_width: PositiveInt = 64
    addition_layers: PositiveInt = 2
    addition_steps: PositiveInt = 800
    n_eval_addition: PositiveInt = 100  # problems per test length

    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=500, lr=1e-3, batch_size=64, schedule="cosine", grad_clip=1.0, eval_every=100, log_every=None,
        early_stop_metric="val_acc", patience=3))

    def validate(self) -> None:
        super().validate()
        if min(self.train_lengths) < 2:
            raise ConfigError(f"LengthConfig.train_lengths={list(self.train_lengths)} is not valid; "
                              "sortedness needs lengths >= 2")
