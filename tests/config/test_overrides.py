"""`--set key=value` text into a config: JSON values, dotted keys into a nested TrainConfig,
unknown keys with the nearest one, non-finite and overflowing numbers refused in one line."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from blocklab.config import Config, NonEmpty, PositiveInt, build, field_keys, parse_assignments
from blocklab.errors import ConfigError
from blocklab.train import TrainConfig


@dataclass
class Lab(Config):
    """A study's knobs that nest the trainer's config instead of copying its fields."""

    depths: NonEmpty[tuple[PositiveInt, ...]] = (10, 20)
    norm: Literal["layer", "batch"] = "layer"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, lr=3e-3, batch_size=16))


def test_parse_assignments_reads_json_and_falls_back_to_text():
    got = parse_assignments(["lr=3e-3", "depths=[4, 8]", "norm=layer", "width=null", "amp=true", "tag=\"2\"",
                             "name=a=b"])
    assert got == {"lr": 3e-3, "depths": [4, 8], "norm": "layer", "width": None, "amp": True, "tag": "2",
                   "name": "a=b"}


@pytest.mark.parametrize("pair", ["base_vocab=1e999", "x=Infinity", "x=-Infinity", "x=NaN", "x=[1, -1e400]",
                                  "x=" + "9" * 5000, "x", "=3"])
def test_parse_assignments_refuses_non_finite_and_malformed_values_in_one_line(pair):
    with pytest.raises(ConfigError) as e:
        parse_assignments([pair])
    message = str(e.value)
    assert message.startswith("--set ") and "\n" not in message and len(message) < 150, message


def test_dotted_keys_reach_the_nested_trainer_config_and_keep_the_study_defaults():
    cfg = build(Lab, {"train.lr": 1e-2, "train.checkpoint_every": 100})
    assert (cfg.train.lr, cfg.train.checkpoint_every) == (1e-2, 100)
    assert (cfg.train.steps, cfg.train.batch_size) == (2000, 16), "the study's trainer defaults stay"
    assert build(Lab).train == TrainConfig(steps=2000, lr=3e-3, batch_size=16)
    assert build(Lab, {"train": {"lr": 1e-2, "checkpoint_every": 100}}) == cfg  # a mapping sets several fields


def test_quick_applies_first_then_set():
    cfg = build(Lab, {"train.steps": 60, "depths": [4]}, quick={"train.steps": 50, "train.eval_every": 10})
    assert (cfg.train.steps, cfg.train.eval_every, cfg.depths) == (60, 10, (4,))
    whole = TrainConfig(steps=7)
    assert build(Lab, {"train": whole}, quick={"train.steps": 50}).train.steps == 7  # a whole config wins


def test_an_unknown_key_suggests_the_nearest_and_lists_every_valid_key():
    for key, nearest in [("lr", "train.lr"), ("train.lrr", "train.lr"), ("train.checkpoint", "train.checkpoint_every"),
                         ("dephts", "depths")]:
        with pytest.raises(ConfigError) as e:
            build(Lab, {key: 1}, owner="lab")
        message = str(e.value)
        assert message.startswith(f"lab: --set {key}=1 names no config field; did you mean {nearest!r}? valid keys: ")
        assert "depths, norm, train.optimizer, train.lr," in message and "train.checkpoint_every" in message
    with pytest.raises(ConfigError, match="lab: quick stpes=1 names no config field"):
        build(Lab, quick={"stpes": 1}, owner="lab")


@pytest.mark.parametrize("key, value, words", [
    ("train.steps", 0, "a positive integer"),
    ("train.seed", 2**63, "an integer in [0, 2**63)"),
    ("train.lr", 10**400, "a finite number > 0"),
    ("train.optimizer", "lion", "one of: 'adamw', 'adam', 'sgd', 'muon'"),
    ("depths", [], "a non-empty list of positive integers"),
    ("norm", 3, "one of: 'layer', 'batch'"),
    ("train", 5, "a TrainConfig"),
])
def test_a_bad_value_names_the_key_the_value_and_what_is_valid(key, value, words):
    with pytest.raises(ConfigError) as e:
        build(Lab, {key: value}, owner="lab")
    message = str(e.value)
    assert message.startswith(f"lab: --set {key}=") and message.endswith(f"is not valid; it must be {words}")
    assert "\n" not in message and len(message) < 150


def test_the_nested_config_s_own_rules_still_apply():
    with pytest.raises(ConfigError, match="TrainConfig.warmup_steps=5 has no effect with schedule='constant'"):
        build(Lab, {"train.warmup_steps": 5})
    assert build(Lab, {"train.warmup_steps": 5, "train.schedule": "cosine"}).train.warmup_steps == 5


def test_field_keys_lists_nested_fields_dotted_in_order():
    keys = field_keys(Lab)
    assert keys[:4] == ["depths", "norm", "train.optimizer", "train.lr"]
    assert [k.removeprefix("train.") for k in keys[2:]] == list(TrainConfig.__dataclass_fields__)
