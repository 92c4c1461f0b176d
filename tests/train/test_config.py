import pytest

from blocklab.errors import ConfigError
from blocklab.train import TrainConfig


@pytest.mark.parametrize("field, value, expected", [
    ("optimizer", "lion", "'adamw', 'adam', 'sgd', 'muon'"),
    ("schedule", "linear", "'constant', 'warmup', 'cosine', 'step', 'wsd'"),
    ("device", "tpu", "'auto', 'cpu', 'cuda', 'mps'"),
    ("early_stop_mode", "up", "'max', 'min'"),
])
def test_a_bad_choice_names_field_value_and_choices(field, value, expected):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: value})
    assert f"TrainConfig.{field}={value!r}" in str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize("field, value", [
    ("lr", 0.0), ("lr", -1e-3), ("steps", 0), ("batch_size", 2.5), ("momentum", 1.0), ("betas", (0.9,)),
    ("betas", (0.9, 1.0)), ("grad_clip", 0), ("eval_every", 0), ("patience", -1), ("warmup_steps", -1),
    ("gamma", 0), ("amp", "yes"), ("seed", True), ("muon_lr", 0.0), ("muon_momentum", 1.0), ("decay_fraction", 0.0),
    ("decay_fraction", 1.5),
])
def test_a_bad_number_names_field_and_value(field, value):
    with pytest.raises(ConfigError, match=f"TrainConfig.{field}="):
        TrainConfig(**{field: value})


def test_fields_that_only_make_sense_together():
    with pytest.raises(ConfigError, match="warmup_steps"):
        TrainConfig(schedule="warmup", warmup_steps=0)
    with pytest.raises(ConfigError, match="warmup_steps=5"):
        TrainConfig(schedule="constant", warmup_steps=5)
    with pytest.raises(ConfigError, match="patience"):
        TrainConfig(early_stop_metric="val_acc")
    with pytest.raises(ConfigError, match="warmup_steps=20"):
        TrainConfig(schedule="cosine", steps=10, warmup_steps=20)
    with pytest.raises(ConfigError, match=r"schedule='wsd'.*60 \+ round\(decay_fraction=0.5 x steps=100\) = 110"):
        TrainConfig(schedule="wsd", steps=100, warmup_steps=60, decay_fraction=0.5)
    assert TrainConfig(schedule="wsd", steps=100, warmup_steps=50, decay_fraction=0.5).decay_steps == 50


def test_from_dict_round_trips_and_rejects_unknown_keys():
    cfg = TrainConfig(optimizer="sgd", betas=(0.8, 0.9), grad_clip=1.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # betas come back as a list from JSON
    with pytest.raises(ConfigError, match="no field 'learning_rate'.*valid fields: optimizer, lr"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match="TrainConfig.lr="):
        cfg.replace(lr=-1.0)
