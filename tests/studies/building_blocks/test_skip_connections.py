"""Study 45 (skip connections) at a tiny size: everything it promises is written, and its
measurements behave as skips must."""
from __future__ import annotations

import pytest
import torch

from blocklab.nn import BlockConfig
from blocklab.studies.building_blocks.skip_connections.study import SkipConnections, signal_norms
from blocklab.studies.common.gradients import per_block
from blocklab.studies.common.training import VectorNet

from ..isolated import HUGE_LR, check_divergence, check_survives_divergence, run_isolated

FIGURES = {"45_skip_connections_training.png", "45_skip_connections_concept.png", "45_skip_connections_dense.png",
           "45_skip_connections_gradients.png", "45_skip_connections_highway.png", "45_skip_failures.png"}
TINY = {"train.steps": 30, "depths": [4], "probe_depths": [4, 10], "inits": ["default", "he"], "n_train": 256,
        "train.eval_every": 15, "grad_logs": 3, "grid": 5}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run of the whole study (only this study is loaded, whatever the others' state)."""
    folder, results = run_isolated("skip-connections", out=tmp_path_factory.mktemp("s45"), overrides=TINY)
    return folder, results, {r["cell"]: r for r in results["runs"]}


def test_every_figure_and_claim_is_produced(run):
    folder, results, runs = run
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    assert {m["claim_id"] for m in results["measurements"]} == set(SkipConnections.claims)
    assert all(r["status"] in ("done", "diverged") for r in runs.values()), [r["message"] for r in runs.values()]
    assert {c["name"] for c in results["cells"]} == set(runs)


def test_metrics_are_in_range_and_mistakes_are_shown(run):
    for name, record in run[2].items():
        m = record["metrics"]
        if "test_acc" not in m:
            continue
        assert 0 <= m["test_acc"] <= 100, name
        assert len(m["grad_init"]) == 2 and all(g >= 0 for g in m["grad_init"]), name  # 4 layers = 2 blocks
        assert all(len(row) == 2 for row in m["grad_train"]), name
        assert m["test_acc"] == 100 or m["mistakes"], name
        assert ("last_skip_ratio" in m) == name.startswith(("residual", "scale")), name
    assert len(run[2]["plain-4-default"]["metrics"]["boundary"]) == TINY["grid"]


def test_width_mismatch_is_a_clear_blocklab_error(run):
    m = run[2]["mismatch"]["metrics"]
    assert m["raised"] == 1 and m["error_type"] == "BlocklabError"
    assert "(4, 1, 32)" in m["message"] and "(4, 1, 16)" in m["message"]


def test_the_identity_path_carries_the_gradient_that_a_plain_net_loses(run):
    """At init with std 0.02 every plain block shrinks the backward signal tenfold or more; the skip does not."""
    probe = run[2]["init-gradients"]["metrics"]["probe"]
    for layers in TINY["probe_depths"]:
        plain, residual = probe[f"plain-{layers}-default"], probe[f"residual-{layers}-default"]
        assert residual["first_grad"] > 10 * plain["first_grad"], layers
    deep, shallow = probe["plain-10-default"]["first_grad"], probe["plain-4-default"]["first_grad"]
    assert deep < shallow / 100, "a deeper plain net must lose more of the gradient"


def test_skip_ratio_reads_the_right_hook_points():
    """signal_norms' ratio equals ||scale * x|| / ||F(x)|| computed by hand for the first block."""
    torch.manual_seed(0)
    cfg = BlockConfig(d_model=8, d_ff=8, norm="none", residual_scale=100.0, activation="relu", init_std=0.3,
                      mixer="none", pos_encoding="none")
    model = VectorNet(cfg, 2, 2, depth=2)
    x = torch.randn(16, 2)
    with torch.no_grad():
        h = model.inp(x)[:, None, :]  # (B, 1, D)
        fx = model.stack.blocks[0].mlp(h)
    got = signal_norms(model, x, 100.0)
    assert got["skip_ratio"][0] == pytest.approx(float(100 * h.norm() / fx.norm()), rel=1e-5)
    assert got["stream"][0] == pytest.approx(float((100 * h + fx).pow(2).mean().sqrt()), rel=1e-5)


def test_per_block_combines_groups_by_block_and_reads_step_logs():
    record = {"grad_norm/stack.blocks.0.mlp": 3.0, "grad_norm/stack.blocks.1.mlp": 4.0,
              "grad_norm/stack.blocks.10.mlp": 1.0, "grad_norm/inp": 9.0}
    assert per_block(record, 2, "stack.blocks.", "grad_norm/") == [3.0, 4.0]  # block 10 is not block 1
    two_groups = {"blocks.0.attn": 3.0, "blocks.0.mlp": 4.0}
    assert per_block(two_groups, 1, "blocks.") == [5.0]


def test_figures_tables_and_claims_survive_divergence(run, tmp_path):
    """Every pair diverged (every float metric null): figures, measurements and tables still come out."""
    check_survives_divergence("skip-connections", run[1], tmp_path)


def test_a_huge_learning_rate_diverges_every_trained_cell_and_the_study_still_reports(tmp_path):
    """Every cell that trains diverges; the mismatch and init-gradient probes train nothing.
    (The all-null case is the test above.)"""
    check_divergence("skip-connections", tmp_path, {**TINY, "train.lr": HUGE_LR}, diverged=8, all_null=False)
