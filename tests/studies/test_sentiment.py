"""The sentiment study on a tiny Rotten-Tomatoes-format corpus made here, and its pieces."""
from __future__ import annotations

import bz2
import csv
import io
import math
import random

import pytest
import torch

from blocklab.data.cache import write_dataset
from blocklab.data.words import PAD_ID
from blocklab.nn import ClassifierConfig, EncoderClassifier
from blocklab.nn.models.saving import load_tokenizer
from blocklab.studies.sentiment.study import BagOfWords, Sentiment, classify_trimmed, embedding_rms

from .isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated

GOOD, BAD = ["great", "moving", "funny", "smart"], ["dull", "boring", "flat", "tedious"]
FIGURES = {"sentiment_accuracy.png", "sentiment_training.png", "sentiment_embedding_scale.png"}
TINY = {"train.steps": 30, "train.warmup_steps": 5, "train.eval_every": 10, "train.batch_size": 16, "train.lr": 0.01,
        "bow_train.steps": 30, "bow_train.eval_every": 10, "bow_train.batch_size": 16, "bow_train.lr": 0.1,
        "d_model": 16, "d_ff": 32, "n_layers": 1, "n_heads": 2, "max_len": 12}


def tiny_corpus(cache, n: int = 240) -> None:
    """n snippets 'the film is <adjective> and <filler>' labelled by the adjective, plus plot rows."""
    rng = random.Random(0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for i in range(n):
        fresh = i % 2 == 0
        word = rng.choice(GOOD if fresh else BAD)
        writer.writerow(["fresh" if fresh else "rotten", f"The film is {word} and {rng.choice('abcdef')}{i}.",
                         "m", "0"])
    writer.writerow(["plot", "A spy meets a cat.", "m", "1"])
    write_dataset(cache / "rotten-tomatoes",
                  {"rotten_tomatoes_corpus_full.csv.bz2": bz2.compress(out.getvalue().encode())}, {})


def test_the_study_trains_every_cell_and_measures_its_claims(tmp_path):
    tiny_corpus(tmp_path / "cache")
    folder, results = run_isolated("sentiment", tmp_path / "run",
                                   overrides={**TINY, "data_dir": str(tmp_path / "cache")})
    runs = {r["cell"]: r for r in results["runs"]}
    assert set(runs) == {"bow-logreg", "transformer", "transformer-unscaled"}
    assert all(r["status"] == "done" for r in runs.values()), [r["message"] for r in runs.values()]
    assert set(results["figures"]) == FIGURES
    # the bag of words is no Transformer: only the two EncoderClassifiers are kept, with their words
    assert kept_kinds(folder) == {(c, 0): "EncoderClassifier" for c in ("transformer", "transformer-unscaled")}
    words = load_tokenizer(folder / "models" / "transformer" / "seed0")
    assert words.vocab_size == runs["transformer"]["metrics"]["data"]["vocab_size"]
    assert [(m["claim_id"], m["part"]) for m in results["measurements"]] == [
        ("C003-03", ""), ("C003-04", "token/position RMS ratio with scaling, init"),
        ("C003-04", "token/position RMS ratio with scaling, trained")]
    data = runs["bow-logreg"]["metrics"]["data"]
    assert (data["rows"], data["plot_rows"], data["snippets"]) == (241, 1, 240)
    assert (data["train_size"], data["val_size"], data["test_size"]) == (192, 24, 24)
    # The filler words are unique per snippet, so the training split's vocabulary misses the test's.
    assert data["test_unknown_rate"] > 0
    assert runs["bow-logreg"]["metrics"]["test_acc"] == 100.0  # one adjective decides the label
    for r in runs.values():
        m = r["metrics"]
        assert 0 <= m["test_acc"] <= 100 and math.isfinite(m["int8_change"]) and 0 < m["int8_size_ratio"] < 1
        assert len(m["history"]) == 3 and all("is" in line for line in m["mistakes"])
    rms = runs["transformer"]["metrics"]["embedding_rms"]["init"]
    assert rms["position"] == pytest.approx(math.sqrt(0.5), rel=1e-3)  # sinusoids: sin^2 + cos^2 = 1 per pair
    assert rms["token"] == pytest.approx(0.02 * 4, rel=0.2)  # init std 0.02 times sqrt(16)


def test_a_missing_corpus_fails_each_run_with_the_command_that_fetches_it(tmp_path):
    _, results = run_isolated("sentiment", tmp_path / "run", overrides={**TINY, "data_dir": str(tmp_path / "empty")})
    assert {r["status"] for r in results["runs"]} == {"failed"}
    assert all("blocklab data fetch rotten-tomatoes" in r["message"] for r in results["runs"])
    assert results["figures"] == [] and results["measurements"][0]["values"] == []


def test_bag_of_words_is_logistic_regression_on_word_presence():
    torch.manual_seed(0)
    model = BagOfWords(vocab_size=6, n_classes=2)
    torch.nn.init.normal_(model.linear.weight)
    x = torch.tensor([[2, 2, 5, PAD_ID], [1, 3, PAD_ID, PAD_ID]])
    present = torch.tensor([[0, 0, 1, 0, 0, 1], [0, 1, 0, 1, 0, 0]], dtype=torch.float)  # repeats count once
    assert torch.allclose(model(x), present @ model.linear.weight.T + model.linear.bias)


def test_trimming_padding_columns_changes_no_logit():
    torch.manual_seed(0)
    model = EncoderClassifier(ClassifierConfig(vocab_size=20, d_model=16, n_heads=2, d_ff=32, pad_id=PAD_ID)).eval()
    x = torch.tensor([[3, 4, 5, PAD_ID, PAD_ID, PAD_ID], [6, 7, PAD_ID, PAD_ID, PAD_ID, PAD_ID]])
    y = torch.tensor([0, 1])
    loss, _ = classify_trimmed(model, (x, y))
    full = torch.nn.functional.cross_entropy(model(x), y)
    assert torch.allclose(loss, full, atol=1e-6)


def test_embedding_rms_scales_with_sqrt_d_model():
    torch.manual_seed(0)
    cfg = ClassifierConfig(vocab_size=20, d_model=16, n_heads=2, d_ff=32, pad_id=PAD_ID)
    plain, scaled = EncoderClassifier(cfg), EncoderClassifier(cfg.replace(scale_embeddings=True))
    scaled.load_state_dict(plain.state_dict())
    x = torch.randint(1, 20, (8, 5))
    a, b = embedding_rms(plain, x), embedding_rms(scaled, x)
    assert b["token"] == pytest.approx(4 * a["token"], rel=1e-5) and b["position"] == pytest.approx(a["position"])
    assert embedding_rms(BagOfWords(20, 2), x) is None


def test_the_quick_variant_keeps_the_full_models():
    assert {key.split(".")[0] for key in Sentiment.quick} <= {"train", "bow_train"}


def test_a_huge_learning_rate_diverges_every_model_and_the_study_still_reports(tmp_path):
    tiny_corpus(tmp_path / "cache")
    huge = {"train.lr": HUGE_LR, "bow_train.lr": HUGE_LR, "data_dir": str(tmp_path / "cache")}
    check_divergence("sentiment", tmp_path / "run", {**TINY, **huge}, diverged=3)
