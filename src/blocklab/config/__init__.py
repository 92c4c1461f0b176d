"""One config system for the models, the trainer and the studies.

A config is a dataclass whose annotations say what each field accepts; `Config` checks
every field against its resolved annotation when the config is built, so one checker
serves `GPTConfig`, `TrainConfig` and every study's knobs:

    @dataclass
    class TrainConfig(Config):
        optimizer: Literal["adamw", "adam", "sgd"] = "adamw"   # a choice
        lr: PositiveFloat = 1e-3                                # a finite number > 0
        grad_clip: PositiveFloat | None = None                  # the same, or None
        seed: Seed = 0                                          # an integer in [0, 2**63)

    @dataclass
    class SkipConfig(Config):                                  # a study's knobs
        depths: NonEmpty[tuple[PositiveInt, ...]] = (10, 20)
        train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000))

Ranges are `Annotated` markers (`Range`, `NonEmpty`) behind short aliases, so the
annotation reads as the rule. Floats must be finite everywhere. Every error names the
field, the bad value and what is valid: `TrainConfig.lr=-1 is not valid; it must be a
finite number > 0`. Cross-field rules go in a `validate()` override that calls super().

Text from the command line goes through `parse_assignments` (`--set key=value`, values
read as JSON) and `build` (dotted keys reach nested configs: `--set train.lr=3e-3`);
`describe` and `render` list every field for `blocklab show`.
"""
from .check import Config, check_fields, expected, fit
from .overrides import build, field_keys, parse_assignments
from .ranges import (
                     NonEmpty,
                     NonNegativeFloat,
                     NonNegativeInt,
                     PositiveFloat,
                     PositiveInt,
                     Probability,
                     ProperFraction,
                     Range,
                     Seed,
)
from .show import FieldRow, describe, format_value, render

__all__ = ["Config", "FieldRow", "NonEmpty", "NonNegativeFloat", "NonNegativeInt", "PositiveFloat", "PositiveInt",
           "Probability", "ProperFraction", "Range", "Seed", "build", "check_fields", "describe", "expected",
           "field_keys", "fit", "format_value", "parse_assignments", "render"]
