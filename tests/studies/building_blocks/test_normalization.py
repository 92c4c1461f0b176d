"""Study 46 (normalization) at a tiny size: everything it promises is written, and its
measurements behave as each norm must."""
from __future__ import annotations

import math

import pytest

from blocklab.studies.building_blocks.normalization.study import Normalization, flow_imbalance, loss_spread

from ..isolated import HUGE_LR, check_divergence, check_survives_divergence, kept_kinds, run_isolated

FIGURES = {"46_normalization_training.png", "46_normalization_batch_training.png", "46_normalization_types.png",
           "46_normalization_distributions.png", "46_normalization_comparison.png",
           "46_normalization_batch_size.png", "46_norm_failures.png"}
TINY = {"train.steps": 12, "n_layers": 2, "batch_sizes": [4, 128], "n_train": 256, "train.log_every": 2}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run of the whole study (only this study is loaded, whatever the others' state)."""
    folder, results = run_isolated("normalization", seeds=1, out=tmp_path_factory.mktemp("s46"), overrides=TINY)
    return folder, results, {r["cell"]: r for r in results["runs"]}


def test_every_figure_and_claim_is_produced(run):
    folder, results, runs = run
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    assert {m["claim_id"] for m in results["measurements"]} == set(Normalization.claims)
    assert all(r["status"] in ("done", "diverged") for r in runs.values()), [r["message"] for r in runs.values()]
    assert {"none-b32", "batch-b4", "layer-post-b32", "none-lr0.01", "layer-lr0.01", "probes"} <= set(runs)
    assert kept_kinds(folder) == {(name, 0): "EncoderClassifier" for name in runs if name != "probes"}


def test_metrics_are_in_range(run):
    for name, record in run[2].items():
        m = record["metrics"]
        if name == "probes":
            continue
        assert 0 <= m["test_acc"] <= 100 and (m["test_acc"] == 100 or m["mistakes"]), name
        assert len(m["loss"]) == TINY["train.steps"] // TINY["train.log_every"] or m["diverged"], name
        assert len(m["grad_init"]) == TINY["n_layers"] and all(g > 0 for g in m["grad_init"]), name
        assert [len(layer["density"]) for layer in m["dist_final"]] == [40] * TINY["n_layers"], name


def test_batchnorm_mixes_batch_mates_and_layernorm_does_not(run):
    """In training mode a BatchNorm output depends on the rest of the batch; in eval mode
    (running statistics) and with LayerNorm it must not depend on it at all."""
    cells = run[2]
    assert cells["batch-b32"]["metrics"]["batchmates_train"] > 1.0
    assert cells["batch-b32"]["metrics"]["batchmates_eval"] < 1e-3
    assert cells["layer-b32"]["metrics"]["batchmates_train"] < 1e-3


def test_eps_zero_and_batch_one_fail_as_described(run):
    m = run[2]["probes"]["metrics"]
    assert m["nan_pct"]["layer-eps0-zeroed"] == 100 and m["nan_pct"]["rms-eps0-zeroed"] == 100
    assert m["nan_pct"]["layer-eps1e-05-zeroed"] == 0 and m["nan_pct"]["layer-eps0-ordinary"] == 0
    assert m["bn1_raised"] == 100 and m["bn1_message"].startswith("BlocklabError: BatchNorm")
    assert m["bn1_time9_finite"] == 1


def test_loss_spread_ignores_the_trend_and_flow_imbalance_is_symmetric():
    assert loss_spread([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.0, -0.5]) == pytest.approx(0.0, abs=1e-9)
    assert loss_spread([1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 2.0]) > 0.3
    assert math.isnan(loss_spread([1.0, 2.0]))
    assert flow_imbalance([10.0, 1.0, 0.1]) == pytest.approx(2.0) == flow_imbalance([0.1, 1.0, 10.0])


def test_figures_tables_and_claims_survive_divergence(run, tmp_path):
    """Every pair diverged (every float metric null): figures, measurements and tables still come out."""
    check_survives_divergence("normalization", run[1], tmp_path)


def test_a_huge_learning_rate_diverges_every_trained_cell_and_the_study_still_reports(tmp_path):
    """Every cell that trains diverges but RMSNorm at batch 32, whose loss and gradients stay finite and small
    enough here; the probes cell trains nothing. (The all-null case is the test above.)"""
    check_divergence("normalization", tmp_path, {**TINY, "train.lr": HUGE_LR, "high_lr": HUGE_LR},
                     diverged=10, all_null=False)
