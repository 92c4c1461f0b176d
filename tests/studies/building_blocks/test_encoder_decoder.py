"""Study 48 (encoder-decoder) at a tiny size, and the pieces it is built from."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from blocklab.nn import BlockConfig
from blocklab.studies.building_blocks.encoder_decoder import AutoEncoder, EncoderDecoder, error_scores
from blocklab.studies.common.snapshots import Snapshots
from blocklab.tasks import signals

from ..isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated

FIGURES = {"48_encoder_decoder_training.png", "48_encoder_decoder_evolution.png", "48_encoder_decoder_concept.png",
           "48_encoder_decoder_bottleneck.png", "48_encoder_decoder_unet.png", "48_encoder_decoder_seq2seq.png",
           "48_encoder_failures.png"}
TINY = {"train.steps": 20, "train.eval_every": 10, "n_train": 128, "n_test": 64, "bottlenecks": [2, 8],
        "seq2seq_train.steps": 4, "seq2seq_train.eval_every": 1}
BLOCK = BlockConfig(d_model=16, d_ff=32, mixer="none", pos_encoding="none")


def test_the_study_writes_every_figure_claim_and_valid_metric(tmp_path):
    folder, results = run_isolated("encoder-decoder", out=tmp_path, overrides=TINY)
    assert [r["status"] for r in results["runs"]] == ["done"] * len(results["cells"]), results["runs"]
    assert set(results["figures"]) == FIGURES
    assert all((folder / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    assert {m["claim_id"] for m in results["measurements"]} == set(EncoderDecoder.claims)
    assert kept_kinds(folder) == {("seq2seq-reverse", 0): "Seq2SeqTransformer"}  # the autoencoders are no Transformer
    cells = {r["cell"]: r["metrics"] for r in results["runs"]}
    assert {"bottleneck-2", "bottleneck-8", "unet-8", "bottleneck-32", "enc-over-dec", "seq2seq-reverse"} == set(cells)
    for name, m in cells.items():
        if name != "seq2seq-reverse":  # 20 steps cannot reconstruct ±3 spikes, so they dominate the error
            assert m["test"]["spike_mse"] > m["test"]["smooth_mse"] > 0 and m["snapshots"]["steps"] == [0, 10, 20], name
    assert [len(cells[f"bottleneck-{k}"]["probe_code"][0]) for k in (2, 8, 32)] == [2, 8, 32]
    assert 0 <= cells["seq2seq-reverse"]["seq_acc"] <= 100
    cross = torch.tensor(cells["seq2seq-reverse"]["patterns"]["cross"])
    assert torch.allclose(cross.sum(-1), torch.ones(6), atol=1e-5)


@pytest.mark.parametrize("skip", [False, True])
def test_only_the_skip_carries_more_than_the_bottleneck(skip):
    """Without the skip the output sees the input through k numbers, so d output / d input has
    rank <= k; the U-Net skip bypasses the bottleneck and the rank rises above k."""
    torch.manual_seed(0)
    model = AutoEncoder(BLOCK, length=12, bottleneck=2, enc_depth=1, dec_depth=1, skip=skip)
    jac = torch.autograd.functional.jacobian(lambda x: model(x[None])[0], torch.randn(12))  # (12, 12)
    rank = torch.linalg.matrix_rank(jac, rtol=1e-4).item()
    assert (rank > 2) if skip else (rank <= 2), rank


def test_a_skip_between_different_widths_fails_clearly():
    with pytest.raises(Exception, match="residual connection needs matching shapes"):
        AutoEncoder(BLOCK, length=12, bottleneck=2, enc_depth=1, dec_depth=1, dec_width=8,
                    skip=True)(torch.randn(3, 12))


def test_noise_gain_is_one_for_the_identity_and_zero_for_a_perfect_denoiser():
    x, y, spikes = signals(0, 0, 64, seed=0, length=16).splits["test"]
    identity, perfect = error_scores(x, x, y, spikes), error_scores(y, x, y, spikes)
    assert identity["noise_gain"] == pytest.approx(1.0) and identity["mse"] == pytest.approx(0.05**2, rel=0.2)
    assert perfect == {"mse": 0, "spike_mse": 0, "smooth_mse": 0, "noise_gain": 0}


def test_snapshots_survive_a_new_instance(tmp_path):
    """A rerun builds a new callback; what the first recorded must still be there."""
    model = nn.Linear(2, 1)
    first = Snapshots(tmp_path / "s.json", lambda m: m.weight.sum())
    first.record(0, model)
    first("eval", type("State", (), {"step": 5, "model": model})())
    again = Snapshots(tmp_path / "s.json", lambda m: 0.0)
    assert again.as_dict()["steps"] == [0, 5]
    assert again.as_dict()["values"][0] == pytest.approx(model.weight.sum().item())
    assert model.training


def test_a_huge_learning_rate_diverges_every_pair_and_the_study_still_reports(tmp_path):
    check_divergence("encoder-decoder", tmp_path, {**TINY, "train.lr": HUGE_LR, "seq2seq_train.lr": HUGE_LR},
                     diverged=6)
