"""Study 47 (attention) at a tiny size: everything it promises is written, and its
measurements behave as attention must."""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.studies.building_blocks.attention.study import Attention, attention_cost, softmax_scaling

from ..isolated import HUGE_LR, check_divergence, check_survives_divergence, kept_kinds, run_isolated

FIGURES = {"47_attention_learned.png", "47_attention_mechanism.png", "47_attention_multihead.png",
           "47_attention_patterns.png", "47_attention_scaling.png", "47_attention_self_cross.png",
           "47_attention_failures.png"}
TINY = {"train.steps": 20, "train.eval_every": 10, "train.lr": 1e-2, "n_train": 128, "n_test": 100, "n_probe": 8,
        "multi_heads": 2, "head_dims": [8, 64], "n_queries": 64, "seq_lens": [64, 128], "seq2seq_train.steps": 2,
        "seq2seq_train.eval_every": 1}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run of the whole study (only this study is loaded, whatever the others' state)."""
    folder, results = run_isolated("attention", seeds=1, out=tmp_path_factory.mktemp("s47"), overrides=TINY)
    return folder, results, {r["cell"]: r["metrics"] for r in results["runs"]}


def test_every_figure_and_claim_is_produced(run):
    folder, results, _ = run
    assert [r["status"] for r in results["runs"]] == ["done"] * len(results["cells"]), results["runs"]
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    assert {m["claim_id"] for m in results["measurements"]} == set(Attention.claims)
    trained = {(c["name"], 0): "EncoderClassifier" for c in results["cells"] if c["name"].startswith("copy")}
    assert kept_kinds(folder) == {**trained, ("self-cross", 0): "Seq2SeqTransformer"}


def test_copy_metrics_are_valid_and_attention_moves_to_the_first_token(run):
    _, _, cells = run
    copy = cells["copy"]
    assert 0 <= copy["init_acc"] <= 100 and 0 <= copy["acc"] <= 100 and copy["chance"] == 20
    pattern = torch.tensor(copy["pattern"])  # (H, S, S), rows are distributions
    assert torch.allclose(pattern.sum(-1), torch.ones(1, 6), atol=1e-5)
    steps = copy["snapshots"]["steps"]
    assert steps[0] == 0 and steps == sorted(steps) and steps[-1] == TINY["train.steps"]
    first, last = copy["snapshots"]["values"][0][0], copy["snapshots"]["values"][-1][0]  # head 0's CLS row
    assert abs(first[1] - 1 / 6) < 0.02, "a 0.02-std init should start near uniform"
    assert last[1] > first[1] + 0.2, f"20 steps at lr 1e-2 should move the CLS query to x1: {first} -> {last}"
    assert len(cells[f"copy-heads{TINY['multi_heads']}"]["pattern"]) == TINY["multi_heads"]


def test_identical_queries_and_keys_give_exactly_uniform_attention(run):
    same = run[2]["copy"]["same_qk"]
    assert same["entropy_ratio"] == pytest.approx(1.0, abs=1e-5)
    assert same["max_weight"] == pytest.approx(1 / 6, abs=1e-5)


def test_without_scaling_the_softmax_sharpens_with_head_dim_and_its_gradient_shrinks():
    torch.manual_seed(0)
    r = softmax_scaling([4, 256], n_queries=256, n_keys=16)
    scaled, unscaled = r["scaled"], r["unscaled"]
    assert abs(scaled["max_weight"][1] - scaled["max_weight"][0]) < 0.05  # 1/sqrt(d) keeps it steady
    assert unscaled["max_weight"][1] > 0.85 > unscaled["max_weight"][0]
    assert unscaled["entropy"][1] < 0.5 * math.log(16)
    assert unscaled["grad_norm"][1] < 0.5 * scaled["grad_norm"][1]


def test_explicit_attention_memory_grows_quadratically_and_fused_does_not():
    cost = attention_cost([256, 512, 1024], repeats=1)
    explicit, fused = cost["explicit"]["peak_bytes"], cost["fused"]["peak_bytes"]
    assert explicit[2] >= 2 * 1024 * 1024 * 4, "scores and weights: two (T, T) float32 matrices at once"
    assert explicit[2] / explicit[1] > 3.5 and explicit[1] / explicit[0] > 3.5
    assert fused[2] < explicit[2] / 4


def test_figures_tables_and_claims_survive_divergence(run, tmp_path):
    """Every pair diverged (every float metric null): figures, measurements and tables still come out."""
    check_survives_divergence("attention", run[1], tmp_path)


def test_a_huge_learning_rate_diverges_every_trained_cell_and_the_study_still_reports(tmp_path):
    """Every cell that trains diverges; the memory and scaling probes train nothing.
    (The all-null case is the test above.)"""
    check_divergence("attention", tmp_path, {**TINY, "train.lr": HUGE_LR, "seq2seq_train.lr": HUGE_LR},
                     diverged=6, all_null=False)
