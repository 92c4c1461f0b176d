"""`blocklab predict`: the answer and its probability from a saved training-dynamics model, and
one clear message with exit code 2 for every malformed prompt or checkpoint (never a traceback).

The commands run through blocklab's real entry point (cli.main), which turns user errors into
exit code 2, via the same helper as the other CLI tests."""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.nn import GPT
from blocklab.nn.models.operations import build_model, model_config
from blocklab.tasks.operations import TOKEN, VOCAB, encode
from lab.tiny_study import run_cli as run


def tiny_model(**changes):
    torch.manual_seed(0)
    return build_model(model_config(d_model=16, n_heads=2, d_ff=32, n_layers=1, **changes))


@pytest.fixture
def saved(tmp_path):
    return tiny_model().save(tmp_path / "model")


@pytest.mark.parametrize("prompt, problem", [
    ("Max(5,3", "missing ')'"),
    ("Foo(1,2,3)", "unknown op 'Foo'"),
    ("Max(12,3,4)", "'12'"),
    ("", "empty input"),
    ("Max 5,3,9)", "missing '('"),
])
def test_each_malformed_prompt_exits_2_naming_the_problem(capsys, saved, prompt, problem):
    code, out, err = run(capsys, "predict", str(saved), prompt)
    assert code == 2 and problem in err and "Traceback" not in err and out == ""
    assert len(err.strip().splitlines()) == 1


def test_missing_and_invalid_checkpoints_exit_2(capsys, tmp_path, saved):
    code, _, err = run(capsys, "predict", str(tmp_path / "nowhere"), "Max(5,3,9)")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "predict", str(tmp_path), "Max(5,3,9)")  # a folder without a model
    assert code == 2 and "config.json is missing" in err
    (saved / "config.json").write_text("{not json")
    code, _, err = run(capsys, "predict", str(saved), "Max(5,3,9)")
    assert code == 2 and "corrupt" in err and "Traceback" not in err
    other = tiny_model(vocab_size=30).save(tmp_path / "other")
    code, _, err = run(capsys, "predict", str(other), "Max(5,3,9)")
    assert code == 2 and "not a training-dynamics model" in err


def test_the_probability_is_the_softmax_of_the_last_position(capsys, saved):
    """WHAT: the printed answer and probability match softmax(model(x)[0, -1]) computed here.
    WHY: reading another position, or a softmax over the wrong axis, gives other numbers."""
    code, out, _ = run(capsys, "predict", str(saved), "Max(5, 3, 9)", "--top", "3")
    assert code == 0
    first, top = out.strip().splitlines()
    x = torch.tensor([encode("Max(5,3,9)")])
    with torch.no_grad():
        probs = torch.softmax(GPT.load(saved)(x)[0, -1].double(), dim=-1)  # (V,)
    p, ids = probs.topk(3)
    assert first == f"Max(5,3,9) = {VOCAB[int(ids[0])]}  (probability {float(p[0]):.4f})"
    assert top == "top 3: " + ", ".join(f"{VOCAB[int(i)]} {float(q):.4f}" for i, q in zip(ids, p))
    assert 0.0 <= float(p[0]) <= 1.0


def test_known_output_distribution_is_printed_exactly(capsys, tmp_path):
    """A head that ignores its input (zero weights) and whose bias is log-probabilities must print
    those probabilities: 7 at 0.6, 3 at 0.3, the other 18 tokens sharing 0.1."""
    model = tiny_model()
    target = torch.full((len(VOCAB),), 0.1 / (len(VOCAB) - 2))
    target[TOKEN["7"]], target[TOKEN["3"]] = 0.6, 0.3
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.bias.copy_(target.log())
    path = model.save(tmp_path / "known")
    code, out, err = run(capsys, "predict", str(path), "Middle(1,2,3)", "--top", "2")
    assert code == 0 and "zero-shot" in err
    assert out.splitlines() == ["Middle(1,2,3) = 7  (probability 0.6000)", "top 2: 7 0.6000, 3 0.3000"]
    assert math.isclose(float(target.sum()), 1.0, rel_tol=1e-6)


def test_top_out_of_range_is_a_usage_error(capsys, saved):
    code, _, err = run(capsys, "predict", str(saved), "Max(5,3,9)", "--top", "0")
    assert code == 2 and "--top" in err


def test_the_tour_names_the_folder_where_its_model_is_kept():
    """`blocklab tour` ends with a predict command on RUN/models/CELL/seed0: that cell is the one its
    training-dynamics run has, so the command it prints points at a model the run keeps."""
    from blocklab.cli.run import TOUR_MODEL, TOUR_MODEL_FOLDER
    from blocklab.lab.registry import build_config
    from blocklab.studies.training_dynamics.study import TrainingDynamics

    study, seeds, overrides = TOUR_MODEL
    cells = [c.name for c in TrainingDynamics().cells(build_config(TrainingDynamics, True, overrides))]
    _, cell, seed = TOUR_MODEL_FOLDER.split("/")
    assert study == TrainingDynamics.name and TOUR_MODEL_FOLDER.startswith("models/")
    assert cells == [cell] and seed == f"seed{seeds - 1}"
