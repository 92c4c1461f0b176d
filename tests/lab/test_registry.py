"""The study declaration: config overrides checked against the Config, and registration checks."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Literal

import pytest

from blocklab.errors import BlocklabError
from blocklab.lab import registry
from blocklab.lab.registry import build_config
from blocklab.train import TrainConfig

from .tiny_study import TinyStudy


@dataclass
class Knobs:
    steps: int = 10
    lr: float = 0.1
    residual: bool = True
    depths: tuple[int, ...] = (2, 4)
    norm: Literal["layer", "batch"] = "layer"
    width: int | None = None


class KnobStudy(registry.Study):
    name = "knobs"
    description = "a study to test config parsing"
    Config = Knobs
    quick = {"steps": 2}


def test_quick_then_set_overrides_apply_in_order():
    assert build_config(KnobStudy).steps == 10
    assert build_config(KnobStudy, quick=True).steps == 2
    assert build_config(KnobStudy, quick=True, overrides={"steps": 5}).steps == 5


def test_values_are_coerced_to_the_annotated_types():
    cfg = build_config(KnobStudy, overrides={"lr": 1, "depths": [8, 16], "norm": "batch", "width": 32})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.depths == (8, 16)  # a JSON list becomes the tuple the field declares
    assert cfg.norm == "batch" and cfg.width == 32
    assert build_config(KnobStudy, overrides={"width": None}).width is None


def test_unknown_key_names_the_key_the_value_and_the_valid_keys():
    with pytest.raises(BlocklabError) as e:
        build_config(KnobStudy, overrides={"stpes": 3})
    msg = str(e.value)
    assert "stpes=3" in msg and "steps, lr, residual, depths, norm, width" in msg


@pytest.mark.parametrize("key, value", [("steps", "many"), ("steps", 2.5), ("steps", True), ("lr", "fast"),
                                        ("residual", 1), ("depths", [2, "x"]), ("norm", "rms"), ("width", 1.5)])
def test_bad_values_are_rejected_with_the_expected_type(key, value):
    with pytest.raises(BlocklabError) as e:
        build_config(KnobStudy, overrides={key: value})
    assert f"{key}={value!r}" in str(e.value) and "must be" in str(e.value)


@dataclass
class NestedKnobs:
    depths: tuple[int, ...] = (2, 4)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=300, lr=3e-3))


class NestedStudy(registry.Study):
    name = "nested"
    description = "a study whose config nests the trainer's"
    Config = NestedKnobs
    quick = {"train.steps": 20}


def test_set_reaches_the_nested_trainer_config():
    cfg = build_config(NestedStudy, quick=True, overrides={"train.lr": 1e-2, "train.checkpoint_every": 5})
    assert cfg.train == TrainConfig(steps=20, lr=1e-2, checkpoint_every=5)
    assert build_config(NestedStudy).train == TrainConfig(steps=300, lr=3e-3)
    with pytest.raises(BlocklabError, match="nested: --set lr=0.1 names no config field; did you mean 'train.lr'"):
        build_config(NestedStudy, overrides={"lr": 0.1})
    with pytest.raises(BlocklabError, match="nested: --set train.checkpoint_every=0 is not valid"):
        build_config(NestedStudy, overrides={"train.checkpoint_every": 0})


def test_register_rejects_a_bad_declaration(tiny):
    class NoConfig(TinyStudy):
        name = "no-config"
        Config = dict

    class BadName(TinyStudy):
        name = "Bad Name"

    class UnknownClaim(TinyStudy):
        name = "unknown-claim"
        claims = ("C999-01",)

    class StrayFigure(TinyStudy):
        name = "stray-figure"
        claim_figures = {"C000-02": ("tiny_bars.png",)}  # a claim it does not measure: no card would show it

    class QuickTypo(TinyStudy):
        name = "quick-typo"
        quick = {"stepz": 1}

    class Twin(TinyStudy):
        pass  # same name as TinyStudy, which the fixture registered

    wrong = [(NoConfig, "dataclass"), (BadName, "lowercase"), (UnknownClaim, "C999-01"), (Twin, "two studies"),
             (StrayFigure, r"claim_figures names claims the study does not measure: \['C000-02'\]")]
    for cls, words in wrong:
        with pytest.raises(TypeError, match=words):
            registry.register(cls)
    with pytest.raises(BlocklabError, match="stepz"):
        registry.register(QuickTypo)


def test_unknown_study_lists_the_valid_names(tiny):
    with pytest.raises(BlocklabError) as e:
        registry.get_study("tinny")
    assert "'tinny'" in str(e.value) and "tiny" in str(e.value) and "building-blocks" in str(e.value)


def test_the_registry_imports_without_torch():
    """The registry is what the CLI reads before any study runs; torch (seconds to import) comes in with a study, the
    runner or the trainer. Its Training class names torch and trainer types in annotations only."""
    code = "import sys, blocklab.lab.registry; assert 'torch' not in sys.modules, 'torch was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
