"""Study 50 (capstone) at a tiny size: every figure and claim part is written, and each
ablation is the config change it claims to be."""
from __future__ import annotations

import pytest
import torch

from blocklab.nn import ClassifierConfig, EncoderClassifier, parameter_summary
from blocklab.studies.building_blocks.capstone import ABLATIONS, Capstone
from blocklab.studies.common.components import drops, without

from ..isolated import HUGE_LR, check_divergence, check_kept, check_survives_divergence, run_isolated, saves_seen

FIGURES = {"50_transformer_ablation.png", "50_transformer_training.png", "50_transformer_architecture.png"}
TINY = {"train.steps": 10, "train.eval_every": 5, "n_train": 128, "n_val": 32, "n_test": 64, "n_layers": 2}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run with two seeds (only this study is loaded, whatever the others' state), and the logits of
    each model as it was saved."""
    with saves_seen() as seen:
        folder, results = run_isolated("capstone", seeds=2, out=tmp_path_factory.mktemp("s50"), overrides=TINY)
    return folder, results, seen


def test_every_figure_and_claim_part_is_produced(run):
    folder, results, _ = run
    assert {r["status"] for r in results["runs"]} <= {"done", "diverged"} and len(results["runs"]) == 10
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    parts = {m["part"] for m in results["measurements"]}
    assert {m["claim_id"] for m in results["measurements"]} == set(Capstone.claims)
    assert parts == {"full", "no skip", "no norm", "no attention", "no PE", "skip matters most"}


def test_each_pair_keeps_its_trained_model(run):
    check_kept(*run[:2], run[2], {r["cell"]: EncoderClassifier for r in run[1]["runs"]}, stacked=True)


def test_metrics_are_in_range_and_the_curves_follow_eval_every(run):
    _, results, _ = run
    for r in results["runs"]:
        m = r["metrics"]
        assert 0 <= m["test_acc"] <= 100
        assert m["curve"]["step"] == [5, 10]
        assert m["params"]["total"] == sum(v for k, v in m["params"].items() if k != "total")
    full = [r for r in results["runs"] if r["cell"] == "full"][0]["metrics"]["params"]
    mean = [r for r in results["runs"] if r["cell"] == "no-attention"][0]["metrics"]["params"]
    assert "attention" not in mean and 0 < 4 * mean["mean mixer"] <= full["attention"], \
        "the mean mixer keeps one projection of attention's four"


def test_drops_pair_seeds():
    results = {"cells": [{"name": "a"}, {"name": "b"}], "runs": [
        {"cell": "a", "seed": 0, "status": "done", "metrics": {"acc": 90.0}},
        {"cell": "a", "seed": 1, "status": "done", "metrics": {"acc": 80.0}},
        {"cell": "b", "seed": 1, "status": "done", "metrics": {"acc": 50.0}},
    ]}
    assert drops(results, "a", "b", "acc") == {1: 30.0}


def test_without_positions_the_model_cannot_see_order_and_with_them_it_can():
    """The no-PE ablation must make the model permutation-invariant over the tokens (the CLS
    readout of an encoder with no positions); the full model must not be."""
    cfg = ClassifierConfig(vocab_size=18, n_classes=10, d_model=32, n_heads=4, d_ff=64, n_layers=2, pooling="cls",
                           max_len=10, init_std=0.2)
    x = torch.randint(0, 18, (4, 9))
    perm = torch.randperm(9)
    for removed, invariant in (((), False), (("PE",), True), (("attention",), False)):
        torch.manual_seed(0)
        model = EncoderClassifier(without(cfg, removed)).eval()
        same = torch.allclose(model(x), model(x[:, perm]), atol=1e-5)
        assert same == invariant, f"removed={removed}: permutation invariant {same}, expected {invariant}"


def test_each_ablation_changes_exactly_its_field():
    cfg = ClassifierConfig()
    changed = {name: {k for k, v in without(cfg, removed).to_dict().items() if v != cfg.to_dict()[k]}
               for name, removed in ABLATIONS.items()}
    assert changed == {"full": set(), "no-skip": {"residual"}, "no-norm": {"norm"}, "no-attention": {"mixer"},
                       "no-PE": {"pos_encoding"}}
    assert "norms" not in parameter_summary(EncoderClassifier(without(cfg, ("norm",))))


def test_figures_tables_and_claims_survive_divergence(run, tmp_path):
    """Every pair diverged (every float metric null): figures, measurements and tables still come out."""
    check_survives_divergence("capstone", run[1], tmp_path)


def test_a_huge_learning_rate_diverges_every_trained_cell_and_the_study_still_reports(tmp_path):
    """Every cell trains and diverges. (The all-null case is the test above.)"""
    check_divergence("capstone", tmp_path, {**TINY, "train.lr": HUGE_LR}, diverged=5, all_null=False)
