"""Study 49 (positional encoding) at a tiny size: every figure and claim is written, the
learned table fails past max_len as the seed says, and RoPE's scores depend on offsets only."""
from __future__ import annotations

import pytest
import torch

from blocklab.nn import ClassifierConfig, EncoderClassifier
from blocklab.nn.positional import sinusoid_table
from blocklab.studies.building_blocks.positional_encoding.study import (
    PositionalEncoding,
    distinguishability,
    offset_scores,
    pe_ratio,
)

from ..isolated import HUGE_LR, check_divergence, check_survives_divergence, kept_kinds, run_isolated

FIGURES = {"49_positional_task.png", "49_positional_sinusoidal.png", "49_positional_alibi.png",
           "49_positional_comparison.png", "49_positional_rope.png", "49_pe_failures.png"}
TINY = {"train.steps": 6, "train.eval_every": 3, "n_train": 128, "n_val": 32, "n_test": 64, "extrap_length": 6,
        "extrap_test_lengths": [10, 20], "extrap_train.steps": 3, "extrap_train.eval_every": 3, "extrap_n_test": 16}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder, results = run_isolated("positional-encoding", out=tmp_path_factory.mktemp("s49"), overrides=TINY)
    return folder, results, {r["cell"]: r["metrics"] for r in results["runs"]}


def test_every_figure_and_claim_is_produced(run):
    folder, results, cells = run
    assert [r["status"] for r in results["runs"]] == ["done"] * len(results["cells"]), results["runs"]
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    assert {m["claim_id"] for m in results["measurements"]} == set(PositionalEncoding.claims)
    assert all(0 <= m["test_acc"] <= 100 for m in cells.values())
    assert kept_kinds(folder) == {(name, 0): "EncoderClassifier" for name in cells}


def test_learned_positions_past_the_table_raise_and_the_clamped_model_is_scored(run):
    learned = run[2]["extrap-learned"]["extrapolation"]
    assert "max_len=8" in learned["error"], learned["error"]
    assert learned["lengths"] == [6, 10, 20] and all(0 <= a <= 100 for a in learned["acc"])
    assert run[2]["extrap-sinusoidal"]["extrapolation"]["error"] is None


def test_attention_probes_are_distributions(run):
    attention = run[2]["task-none"]["attention"]
    first = torch.tensor(attention["first"])  # (H, S): CLS row per head over CLS, Q, x_1..x_5
    assert first.shape == (4, 7) and torch.allclose(first.sum(-1), torch.ones(4), atol=1e-5)
    assert 0 <= attention["tv_from_uniform"] <= 100


def test_rope_scores_depend_on_the_offset_only_and_sinusoidal_ones_do_not():
    torch.manual_seed(0)
    base = ClassifierConfig(vocab_size=12, n_classes=10, d_model=32, n_heads=4, d_ff=64, n_layers=1, pooling="cls",
                            max_len=7, init_std=0.3)
    rope = offset_scores(EncoderClassifier(base.replace(pos_encoding="rope")))
    sinusoidal = offset_scores(EncoderClassifier(base))
    assert rope["invariance_error"] < 1e-4, rope["invariance_error"]
    assert sinusoidal["invariance_error"] > 1e-2, sinusoidal["invariance_error"]


def test_distinguishability_and_the_embedding_ratio_on_known_values():
    same = distinguishability(torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))
    assert same == {"min_distance": pytest.approx(1.0), "max_cosine": pytest.approx(1.0)}
    table = sinusoid_table(torch.arange(100), 32, 10000.0)
    assert distinguishability(table)["max_cosine"] < 0.99
    cfg = ClassifierConfig(vocab_size=12, n_classes=10, d_model=32, n_heads=4, max_len=7)
    model = EncoderClassifier(cfg)
    with torch.no_grad():
        model.embed.tok.weight.fill_(1.0)  # every token vector has norm sqrt(32); each sinusoid row has norm 4
    assert pe_ratio(model, 10, 7) == pytest.approx(4 / 32**0.5, rel=1e-5)
    scaled = EncoderClassifier(cfg.replace(scale_embeddings=True))
    with torch.no_grad():
        scaled.embed.tok.weight.fill_(1.0)
    assert pe_ratio(scaled, 10, 7) == pytest.approx(4 / 32, rel=1e-5)


def test_figures_tables_and_claims_survive_divergence(run, tmp_path):
    """Every pair diverged (every float metric null): figures, measurements and tables still come out."""
    check_survives_divergence("positional-encoding", run[1], tmp_path)


def test_a_huge_learning_rate_diverges_every_trained_cell_and_the_study_still_reports(tmp_path):
    """Every cell trains and diverges. (The all-null case is the test above.)"""
    check_divergence("positional-encoding", tmp_path, {**TINY, "train.lr": HUGE_LR, "extrap_train.lr": HUGE_LR},
                     diverged=12, all_null=False)
