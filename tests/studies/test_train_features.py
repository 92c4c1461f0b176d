"""train-features at a tiny size: both cells run, gradients agree exactly, int8 shrinks the state."""
from __future__ import annotations

import pytest

from blocklab.autograd.tokenizer import CharTokenizer
from blocklab.lab.report import build_report
from blocklab.nn.models.saving import load_tokenizer
from blocklab.studies.train_features import char_windows

from .isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated

TINY = {"ckpt_d_model": 64, "ckpt_layers": 2, "ckpt_seq_len": 16, "ckpt_batch": 2, "repeats": 1, "lm_d_model": 32,
        "train.steps": 10, "train.warmup_steps": 1, "train.batch_size": 8, "lm_train_chars": 20_000,
        "lm_test_chars": 3_000}


def test_the_study_measures_both_features_and_shows_its_table(tmp_path):
    folder, results = run_isolated("train-features", out=tmp_path / "run", overrides=TINY)
    assert [r["status"] for r in results["runs"]] == ["done", "done"], results["runs"]
    ckpt, int8 = (r["metrics"] for r in results["runs"])
    assert ckpt["max_grad_difference"] == 0.0
    assert ckpt["plain_peak_mb"] > 0 and ckpt["checkpointed_peak_mb"] > 0
    assert int8["acc_change_pp"] == pytest.approx(int8["int8_acc"] - int8["float_acc"])
    # Linear weights shrink 4x; embeddings, norms and biases stay float32.
    assert 0.25 < int8["size_ratio"] < 0.75
    assert 0 <= int8["disagree_percent"] <= 100 and len(int8["disagreements"]) <= 5
    assert kept_kinds(folder) == {("int8", 0): "GPT"}  # the language model, with its characters
    assert load_tokenizer(folder / "models" / "int8" / "seed0").vocab_size == int8["vocab"]
    assert results["figures"] == ["train_features.png"] and (folder / "figures" / "train_features.png").exists()
    page = next(build_report(tmp_path / "run").parent.glob("study-*.html")).read_text()
    assert "Measured: mean [95% CI] over seeds" in page and "memory saved (%)" in page


def test_char_windows_are_consecutive_and_drop_the_tail():
    tok = CharTokenizer("abcd")
    w = char_windows("abcdabcdab", tok, context=2)  # 10 characters: three windows of 3, one left over
    assert w.tolist() == [[1, 2, 3], [4, 1, 2], [3, 4, 1]]


def test_a_huge_learning_rate_diverges_the_trained_model_and_the_study_still_reports(tmp_path):
    """Only the int8 cell trains a model; the gradient-checkpointing cell times steps of an untrained one."""
    check_divergence("train-features", tmp_path, {**TINY, "train.lr": HUGE_LR}, diverged=1)
