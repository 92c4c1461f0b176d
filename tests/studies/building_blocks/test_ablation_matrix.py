"""Study 51 (ablation matrix) at a tiny size: all 16 cells, every figure and claim, and the
importance and interaction arithmetic checked on known numbers."""
from __future__ import annotations

import itertools

import pytest

from blocklab.studies.building_blocks.ablation_matrix import NAMES, AblationMatrix, cell_name, importance, interaction

from ..isolated import HUGE_LR, check_divergence, check_survives_divergence, kept_kinds, run_isolated

FIGURES = {"51_ablation_comparison.png", "51_ablation_matrix.png", "51_ablation_interactions.png"}
TINY = {"train.steps": 4, "n_train": 64, "n_test": 64}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder, results = run_isolated("ablation-matrix", seeds=1, out=tmp_path_factory.mktemp("s51"), overrides=TINY)
    return folder, results


def test_all_sixteen_combinations_run_and_every_figure_and_claim_is_there(run):
    folder, results = run
    names = {c["name"] for c in results["cells"]}
    assert len(names) == 16 and {"full", "none", "no-skip", "no-skip+norm+attention"} <= names
    assert {r["status"] for r in results["runs"]} <= {"done", "diverged"} and len(results["runs"]) == 16
    assert all(0 <= r["metrics"]["test_acc"] <= 100 for r in results["runs"])
    assert kept_kinds(folder) == {(n, 0): "EncoderClassifier" for n in names}
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    claims = [m["claim_id"] for m in results["measurements"]]
    assert set(claims) == set(AblationMatrix.claims)
    assert (claims.count("C000-13"), claims.count("C000-14"), claims.count("C000-15")) == (6, 3, 6)


def fake_results(acc: dict[tuple[str, ...], list[float]]) -> dict:
    runs = [{"cell": cell_name(k), "seed": s, "status": "done", "metrics": {"test_acc": v}}
            for k, values in acc.items() for s, v in enumerate(values)]
    return {"cells": [{"name": cell_name(k)} for k in acc], "runs": runs}


def test_importance_and_interaction_on_known_numbers():
    """full 90; skip alone costs 10, norm alone 20; both together 45 -> interaction +15."""
    acc = {(): [90.0, 92.0], ("skip",): [80.0, 82.0], ("norm",): [70.0, 72.0], ("skip", "norm"): [45.0, 50.0]}
    results = fake_results(acc)
    assert importance(results, "skip") == {0: 10.0, 1: 10.0}
    assert importance(results, "norm") == {0: 20.0, 1: 20.0}
    assert interaction(results, "skip", "norm") == {0: 15.0, 1: 12.0}
    assert interaction(results, "norm", "skip") == interaction(results, "skip", "norm"), "a pair has one cell"


def test_cell_names_are_unique_and_round_trip_the_subsets():
    subsets = [s for k in range(5) for s in itertools.combinations(NAMES, k)]
    assert len({cell_name(s) for s in subsets}) == 16
    assert cell_name(()) == "full" and cell_name(NAMES) == "none"


def test_figures_tables_and_claims_survive_divergence(run, tmp_path):
    """Every pair diverged (every float metric null): figures, measurements and tables still come out."""
    check_survives_divergence("ablation-matrix", run[1], tmp_path)


def test_a_huge_learning_rate_diverges_every_trained_cell_and_the_study_still_reports(tmp_path):
    """Every cell trains and diverges. (The all-null case is the test above.)"""
    check_divergence("ablation-matrix", tmp_path, {**TINY, "train.lr": HUGE_LR}, diverged=16, all_null=False)
