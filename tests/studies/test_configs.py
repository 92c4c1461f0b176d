"""Every study's knobs go through blocklab.config: ranged fields checked at the door, the trainer's
settings nested (`--set train.lr=...`), `blocklab show`, and a refused --set that writes nothing."""
from __future__ import annotations

import pytest

from blocklab.config import Config, describe, field_keys
from blocklab.errors import BlocklabError, ConfigError
from blocklab.lab import registry
from blocklab.lab.runner import _check_same_run, _resumable_keys
from blocklab.report.results import config_value
from blocklab.train import TrainConfig
from lab.tiny_study import run_cli

registry.load_all()
STUDIES = dict(registry.STUDIES)  # the real studies (the `tiny` fixture swaps the registry in other tests)
NUMPY_ENGINE = ("tinytorch-level1", "tinytorch-copilot")  # trained by blocklab.autograd: no checkpoints


@pytest.mark.parametrize("name", STUDIES)
def test_every_study_config_is_a_checked_config_with_ranges(name):
    cls = STUDIES[name]
    assert issubclass(cls.Config, Config)
    rows = describe(cls.Config, cls.quick)
    assert not [r.key for r in rows if r.type in ("an integer", "a list of integers")]  # every size has a range
    for row in rows:
        if row.type.startswith(("a positive integer", "a non-negative integer")):
            with pytest.raises(ConfigError, match=f"{name}: --set {row.key}=-5 is not valid"):
                registry.build_config(cls, overrides={row.key: -5})


TWO_TRAINERS = {"char-speedrun": ("baseline.train", "best.train")}  # studies comparing two recipes


@pytest.mark.parametrize("name", [n for n in STUDIES if n not in ("paper-spec", *TWO_TRAINERS)])
def test_set_reaches_every_studys_trainer(name):
    cls = STUDIES[name]
    assert isinstance(cls.Config().train, TrainConfig)
    assert registry.build_config(cls, quick=True, overrides={"train.lr": 3e-3}).train.lr == 3e-3
    if name in NUMPY_ENGINE:
        with pytest.raises(ConfigError, match="checkpoint_every=100 is not available with the numpy engine"):
            registry.build_config(cls, quick=True, overrides={"train.checkpoint_every": 100})
        with pytest.raises(ConfigError, match="checkpoint_seconds=60.0 is not available with the numpy engine"):
            registry.build_config(cls, quick=True, overrides={"train.checkpoint_seconds": 60})
        assert cls.Config().train.checkpoint_seconds is None
    else:
        cfg = registry.build_config(cls, quick=True, overrides={"train.checkpoint_every": 100})
        assert cfg.train.checkpoint_every == 100
        assert cfg.train.checkpoint_seconds == 60  # checkpoints while training unless asked not to
    with pytest.raises(ConfigError, match="set for each run by the runner"):
        registry.build_config(cls, overrides={"train.seed": 1})


@pytest.mark.parametrize("name", TWO_TRAINERS)
def test_set_reaches_both_trainers_of_a_study_that_compares_recipes(name):
    for prefix in TWO_TRAINERS[name]:
        cfg = registry.build_config(STUDIES[name], quick=True, overrides={f"{prefix}.lr": 3e-3})
        assert config_value({"config": cfg.to_dict()}, f"{prefix}.lr") == 3e-3
        with pytest.raises(ConfigError, match="set for each run by the runner"):
            registry.build_config(STUDIES[name], overrides={f"{prefix}.seed": 1})


def test_show_prints_every_field_with_its_default_and_quick_value(capsys):
    for name, cls in STUDIES.items():
        code, out, err = run_cli(capsys, "show", name)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == f"{name}: {cls.description}" and lines[1].startswith(f"seeds: {cls.seeds} (--quick: 3;")
        assert lines[2].split() == ["field", "type", "default", "--quick"]
        assert [line.split()[0] for line in lines[3:]] == field_keys(cls.Config), name
    _, out, _ = run_cli(capsys, "show", "capstone")
    steps = next(line for line in out.splitlines() if line.startswith("train.steps "))
    assert steps.split()[-2:] == ["1500", "60"] and "a positive integer" in steps
    code, _, err = run_cli(capsys, "show", "building-blocks")
    assert code == 2 and "'building-blocks' is a group; show one of its studies: skip-connections" in err


@pytest.mark.parametrize("study, assignment, words", [
    ("capstone", "train.steps=0", "capstone: --set train.steps=0 is not valid; it must be a positive integer"),
    ("skip-connections", "depths=[]", "--set depths=[] is not valid; it must be a non-empty list"),
    ("paper-spec", "base_vocab=-5", "--set base_vocab=-5 is not valid; it must be a positive integer"),
    ("building-blocks", "capstone.train.steps=0", "capstone: --set train.steps=0 is not valid"),
    ("capstone", "train.checkpoint_evry=5", "did you mean 'train.checkpoint_every'?"),
])
def test_a_refused_set_exits_2_naming_the_field_and_writes_nothing(study, assignment, words, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", study, "--quick", "--seeds", "1", "--set", assignment, "--out", str(out))
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_folder_written_before_the_trainer_config_nested_resumes_and_reports(tmp_path):
    cls, path = STUDIES["capstone"], tmp_path / "results.json"
    asked = registry.build_config(cls, quick=True).to_dict()
    flat = {**{k: v for k, v in asked.items() if k != "train"}, "steps": 60, "batch_size": 64, "lr": 3e-3,
            "eval_every": 30}  # as results.json recorded capstone's --quick config before
    _check_same_run({"study": "capstone", "config": flat}, cls, asked, path)
    with pytest.raises(BlocklabError, match="another config \\(train.steps: stored 50, asked 60\\)"):
        _check_same_run({"study": "capstone", "config": {**flat, "steps": 50}}, cls, asked, path)
    with pytest.raises(BlocklabError, match="train.lr: stored 0.003, asked 0.01"):
        _check_same_run({"study": "capstone", "config": asked}, cls, {**asked, "train": {**asked["train"], "lr": 0.01}},
                        path)
    assert config_value({"config": flat}, "train.steps") == config_value({"config": asked}, "train.steps") == 60
    assert config_value({"config": {"lm_steps": 9}}, "train.steps", "lm_steps") == 9


def test_a_rerun_may_change_how_often_pairs_checkpoint_but_not_how_they_train(tmp_path):
    """Checkpoint intervals (and the other trainer settings that change no value) may differ from those stored
    in results.json, also when it predates a field; a setting that changes the training may not."""
    cls, path = STUDIES["attention"], tmp_path / "results.json"
    asked = registry.build_config(cls, quick=True).to_dict()
    free = _resumable_keys(cls.Config)
    assert {"train.checkpoint_every", "seq2seq_train.checkpoint_seconds", "train.tensorboard"} <= free
    assert not {"train.lr", "train.steps", "n_train"} & free
    older = {**asked, "train": {k: v for k, v in asked["train"].items() if k != "checkpoint_seconds"}}
    changed = {**asked, "train": {**asked["train"], "checkpoint_every": 7, "checkpoint_seconds": None}}
    for stored in (older, changed):
        _check_same_run({"study": "attention", "config": stored}, cls, asked, path, free)
    with pytest.raises(BlocklabError, match="train.lr: stored 1.0"):
        _check_same_run({"study": "attention", "config": {**changed, "train": {**changed["train"], "lr": 1.0}}}, cls,
                        asked, path, free)
