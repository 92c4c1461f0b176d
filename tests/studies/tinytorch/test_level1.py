"""Seed 004's Level 1 on the numpy engine: the patterns task, and the study reaching its goal."""
from __future__ import annotations

import math

import numpy as np
import pytest

from blocklab.autograd import no_grad
from blocklab.lab.runner import run_study
from blocklab.nn.models.saving import load_any
from blocklab.report import results as res
from blocklab.studies.tinytorch import level1 as _registers  # noqa: F401  (check_divergence runs it)
from blocklab.tasks import patterns

from ..isolated import HUGE_LR, check_claim_figures, check_divergence

FIGURES = ["004_level1_training.png", "004_level1_patterns.png", "004_level1_speed.png"]


def test_the_patterns_are_the_seeds_and_their_vocabulary_has_37_ids():
    x, y = patterns.level1_data()
    assert x.shape == y.shape == (12, 7) and patterns.VOCAB_SIZE == 37
    assert patterns.decode(x[1]) == "FGHIJ__" and patterns.decode(y[1]) == "GHIJ___"  # FGHI -> GHIJ
    assert {"FGHIJ", "BBBBB", "CCCCC"} <= set(patterns.PATTERNS)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets are the inputs shifted by one


def test_only_the_first_prediction_of_the_three_a_patterns_is_open():
    open_ = ~patterns.determined()
    assert sorted(patterns.PATTERNS[i] for i, t in zip(*np.nonzero(open_)) if t == 0) == ["A1B2C", "AAAAA", "ABCDE"]
    assert open_.sum() == 3 and patterns.ceiling() == 10


def test_score_counts_a_pattern_right_only_when_all_four_predictions_are():
    _, y = patterns.level1_data()
    pred = y.copy()
    pred[1, 3] = patterns.encode("K")[0]  # FGHI -> GHIK
    pred[7, 0] = patterns.encode("B")[0]  # AAAA -> BAAA: the open prediction, forgiven by `determined`
    s = patterns.score(pred)
    assert s["n_right"] == 10 and s["n_right_determined"] == 11
    assert s["mistakes"] == ["FGHI -> GHIK (truth GHIJ)", "AAAA -> BAAA (truth AAAA)"]


@pytest.fixture(scope="module")
def level1_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("level1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        run_study("tinytorch-level1", seeds=1, quick=True, out=out, overrides={"bench_repeats": 2})
    return res.load(out / "results.json"), out


def test_level1_memorizes_every_pattern_its_prefix_determines(level1_run):
    """The goal: 100% of the 12 patterns where the prefix determines the answer, and the seed's
    own test at its ceiling of 10 (three patterns start with 'A'), at the quick step count."""
    results, _ = level1_run
    m = results["runs"][0]["metrics"]
    assert results["runs"][0]["status"] == "done" and m["parameters"] == 4_624
    assert m["right_determined_final"] == 12 and m["right_final"] == patterns.ceiling()
    assert m["loss_final"] < 0.3 < 1.0 < m["loss_at_200"] < m["loss_initial"]
    assert abs(m["loss_initial"] - math.log(37)) < 0.2  # a fresh model guesses near chance
    assert [r["step"] for r in m["accuracy_curve"]][:3] == [0, 50, 100] and m["accuracy_curve"][0]["right"] == 0
    assert m["steps_to_high_determined"] is not None and m["steps_to_ceiling"] is not None


def test_level1_keeps_the_model_it_scored(level1_run):
    results, out = level1_run
    model = load_any(out / "models" / "level1" / "seed0", engine="numpy")
    x, _ = patterns.level1_data()
    with no_grad():
        scored = patterns.score(model(x).data.argmax(-1))
    assert scored["mistakes"] == results["runs"][0]["metrics"]["mistakes"]
    assert scored["n_right"] == results["runs"][0]["metrics"]["right_final"]


def test_level1_results_have_figures_claims_and_the_bench(level1_run):
    results, out = level1_run
    assert results["figures"] == FIGURES and all((out / "figures" / f).is_file() for f in FIGURES)
    check_claim_figures("tinytorch-level1", results)
    assert {m["claim_id"] for m in results["measurements"]} == {"C004-01", "C004-03", "C004-05"}
    bench = results["runs"][0]["metrics"]["bench"]
    assert bench["parameters"] == 4_624 and bench["numpy_step_ms"] > 0 and bench["torch_step_ms"] > 0


def test_a_huge_learning_rate_diverges_and_the_study_still_reports(tmp_path):
    check_divergence("tinytorch-level1", tmp_path, {"train.lr": HUGE_LR, "bench_repeats": 2}, diverged=1)
