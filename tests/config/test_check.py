"""The one checker: a value against a resolved annotation, and configs checked field by field when built.

Each error must name the field, the bad value and what is valid, in words a user can act on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest

from blocklab.config import (
    Config,
    NonEmpty,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    ProperFraction,
    Range,
    Seed,
    expected,
    fit,
)
from blocklab.errors import ConfigError

# annotation: (values it takes, values it refuses)
CASES = {
    "PositiveInt": (PositiveInt, [1, 10**30], [0, -1, True, 1.0, "1", None]),
    "NonNegativeInt": (NonNegativeInt, [0, 7], [-1, 0.5]),
    "PositiveFloat": (PositiveFloat, [1e-12, 3, 1e308], [0.0, -1e-3, float("inf"), float("nan"), 10**400, "1", False]),
    "Probability": (Probability, [0.0, 0.5, 1.0, 1], [-1e-9, 1.0001]),
    "ProperFraction": (ProperFraction, [0.0, 0.999], [1.0, -0.1]),
    "Seed": (Seed, [0, 2**63 - 1], [-1, 2**63, 1.5]),
    "a range of one's own": (Annotated[float, Range(gt=1)], [1.5], [1.0, 0.5]),
    "an optional choice": (Literal["pre", "post"] | None, ["pre", None], ["Pre", "", 0]),
    "a choice of ints": (Literal[1, 2], [1, 2], [True, 1.0, 3]),
    "a non-empty list": (NonEmpty[tuple[PositiveInt, ...]], [(1,), [2, 3]], [(), [0], [1, "x"], 1]),
    "a pair": (tuple[ProperFraction, ProperFraction], [(0.9, 0.99)], [(0.9,), (0.9, 1.0), (0.9, 0.9, 0.9)]),
    "text": (str | None, ["layer", None], [2, ["a"]]),
    "a switch": (bool, [True, False], [1, "yes", None]),
}


@pytest.mark.parametrize("hint, good, bad", CASES.values(), ids=CASES.keys())
def test_fit_takes_what_the_annotation_allows_and_refuses_the_rest(hint, good, bad):
    for value in good:
        assert fit(value, hint, "C.f") == (tuple(value) if isinstance(value, list) else value)
    for value in bad:
        with pytest.raises(ConfigError) as e:
            fit(value, hint, "C.f")
        message = str(e.value)
        assert message.startswith("C.f=") and "is not valid; it must be " + expected(hint) in message, message


def test_expected_says_in_words_what_a_field_takes():
    assert expected(PositiveInt) == "a positive integer"
    assert expected(PositiveFloat | None) == "a finite number > 0 or None"
    assert expected(ProperFraction) == "a number in [0, 1)"
    assert expected(Seed) == "an integer in [0, 2**63)"
    assert expected(NonEmpty[tuple[PositiveInt, ...]]) == "a non-empty list of positive integers"
    assert expected(tuple[ProperFraction, ProperFraction]) == "a list of 2 numbers in [0, 1)"
    assert expected(Literal["layer", "rms"]) == "one of: 'layer', 'rms'"
    assert expected(bool) == "True or False"


def test_the_error_names_field_value_and_what_is_valid_on_one_line():
    with pytest.raises(ConfigError) as e:
        fit(10**400, PositiveFloat, "TrainConfig.lr")
    message = str(e.value)
    assert message.startswith("TrainConfig.lr=1000") and message.endswith("it must be a finite number > 0")
    assert "\n" not in message and len(message) < 150, "a 401-digit value is cut, not printed whole"


def test_loose_fit_converts_command_line_values_and_strict_fit_does_not():
    assert type(fit(1, PositiveFloat, "f", loose=True)) is float
    assert type(fit(1, PositiveFloat, "f")) is int  # a config built in Python keeps what it was given
    assert fit(4.0, PositiveInt, "f", loose=True) == 4
    assert fit(2, str, "f", loose=True) == "2"  # --set tag=2 reads as a number
    for value, hint in [(4.5, PositiveInt), (float("inf"), PositiveInt), (True, str)]:
        with pytest.raises(ConfigError):
            fit(value, hint, "f", loose=True)
    with pytest.raises(ConfigError):
        fit(2, str, "f")


@dataclass
class Inner(Config):
    rate: ProperFraction = 0.5
    sizes: NonEmpty[tuple[PositiveInt, ...]] = (1, 2)


@dataclass
class Outer(Config):
    width: PositiveInt = 4
    norm: Literal["layer", "rms"] = "layer"
    inner: Inner = field(default_factory=Inner)

    def validate(self) -> None:
        super().validate()
        if self.width < len(self.inner.sizes):
            raise ConfigError(f"Outer.width={self.width} must be at least len(inner.sizes)={len(self.inner.sizes)}")


def test_a_config_is_checked_when_built_and_copied():
    assert Inner(sizes=[3]).sizes == (3,)  # a JSON list becomes the declared tuple
    with pytest.raises(ConfigError, match=r"^Inner.rate=1.0 is not valid; it must be a number in \[0, 1\)$"):
        Inner(rate=1.0)
    with pytest.raises(ConfigError, match="Outer.norm='batch' is not valid; it must be one of: 'layer', 'rms'"):
        Outer(norm="batch")
    with pytest.raises(ConfigError, match="Outer.width=1 must be at least"):  # the cross-field rule runs after
        Outer(width=1)
    with pytest.raises(ConfigError, match="Outer.width=0 is not valid"):
        Outer().replace(width=0)


def test_from_dict_builds_nested_configs_and_round_trips_through_json():
    cfg = Outer(width=8, inner=Inner(rate=0.25, sizes=(5,)))
    assert cfg.to_dict() == {"width": 8, "norm": "layer", "inner": {"rate": 0.25, "sizes": [5]}}
    assert Outer.from_dict(cfg.to_dict()) == cfg


def test_an_unknown_key_suggests_the_nearest_field():
    with pytest.raises(ConfigError) as e:
        Outer.from_dict({"widht": 3})
    assert str(e.value) == ("Outer has no field 'widht'; did you mean 'width'? "
                            "valid fields: width, norm, inner")
    with pytest.raises(ConfigError, match="no field 'zzz'; valid fields"):  # nothing close: no guess
        Outer().replace(zzz=1)
