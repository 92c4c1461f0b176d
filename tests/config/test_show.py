"""What `blocklab show STUDY` prints: every field, dotted for nested ones, with type, default and --quick value."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config, FieldRow, NonEmpty, PositiveFloat, PositiveInt, describe, render


@dataclass
class Small(Config):
    steps: PositiveInt = 100
    lr: PositiveFloat | None = None


@dataclass
class Knobs(Config):
    depths: NonEmpty[tuple[PositiveInt, ...]] = (10, 20)
    norm: Literal["layer", "batch"] = "layer"
    run: Small = field(default_factory=lambda: Small(steps=2000))


def test_describe_gives_every_field_with_type_default_and_quick_value():
    rows = describe(Knobs, {"run.steps": 50, "depths": [4]})
    assert rows == [
        FieldRow("depths", "a non-empty list of positive integers", (10, 20), (4,)),
        FieldRow("norm", "one of: 'layer', 'batch'", "layer", "layer"),
        FieldRow("run.steps", "a positive integer", 2000, 50),
        FieldRow("run.lr", "a finite number > 0 or None", None, None),
    ]


def test_render_aligns_the_columns_and_writes_values_as_set_takes_them():
    assert render(describe(Knobs, {"run.steps": 50})).splitlines() == [
        "field      type                                   default   --quick",
        "depths     a non-empty list of positive integers  [10, 20]",
        "norm       one of: 'layer', 'batch'               layer",
        "run.steps  a positive integer                     2000      50",
        "run.lr     a finite number > 0 or None            null",
    ]
