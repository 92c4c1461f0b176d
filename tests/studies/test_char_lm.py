"""The char-lm study on tiny corpora made here (a few 'works' and a small source tree), and its pieces."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blocklab.data import stdlib_code
from blocklab.data.cache import write_dataset
from blocklab.data.fetch import fetch
from blocklab.nn import GPT, GPTConfig
from blocklab.nn.models.text import continue_text, load_text_model
from blocklab.studies.char_lm.study import SAMPLING
from blocklab.studies.common.char_text import windows
from blocklab.studies.common.training import next_token

from .isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated

TINY = {"train.steps": 12, "code_steps": 6, "train.eval_every": 6, "train.warmup_steps": 2, "context": 16,
        "d_model": 16, "n_heads": 2, "n_layers": 1, "train.batch_size": 4, "val_windows": 8, "sample_chars": 20}
VERSE = "ROMEO.\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n"


@pytest.fixture
def corpora(tmp_path, monkeypatch):
    """A cache with a two-work 'shakespeare' and a 'stdlib-code' whose root is a small source tree."""
    cache, lib = tmp_path / "cache", tmp_path / "lib"
    write_dataset(cache / "shakespeare", {"texts/a_gut.txt": (VERSE * 20).encode(), "texts/b_gut.txt": VERSE.encode()},
                  {})
    for i in range(30):
        (lib / f"mod{i}.py").parent.mkdir(parents=True, exist_ok=True)
        (lib / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n\n" * 10)
    monkeypatch.setattr(stdlib_code, "stdlib_root", lambda: lib)
    fetch("stdlib-code", cache)
    return cache


def test_the_study_trains_both_corpora_and_samples_each_way(tmp_path, corpora):
    folder, results = run_isolated("char-lm", tmp_path / "run", overrides={**TINY, "data_dir": str(corpora)})
    runs = {r["cell"]: r for r in results["runs"]}
    assert [r["status"] for r in runs.values()] == ["done", "done"], [r["message"] for r in runs.values()]
    assert set(results["figures"]) == {"char_lm_loss.png", "char_lm_samples.png"}
    assert kept_kinds(folder) == {(cell, 0): "GPT" for cell in runs}
    shakespeare = runs["shakespeare-nanogpt-cpu"]["metrics"]
    assert [h["step"] for h in shakespeare["history"]] == [6, 12]
    assert [h["step"] for h in runs["stdlib-code"]["metrics"]["history"]] == [6]
    assert shakespeare["data"]["chars"] == 21 * len(VERSE) and shakespeare["data"]["val_unknown"] == 0
    vocab = shakespeare["data"]["vocab_size"]
    # the loss starts near log(V) (uniform guesses) and 12 updates at lr 1e-3 can only lower it so much
    assert 1.0 < shakespeare["val_loss"] < math.log(vocab) + 0.5
    assert shakespeare["bits_per_char"] == pytest.approx(shakespeare["val_loss"] / math.log(2))
    assert set(shakespeare["samples"]) == set(SAMPLING)
    assert all(len(s) == TINY["sample_chars"] for s in shakespeare["samples"].values())


def test_a_missing_corpus_names_the_command_that_fetches_it_and_the_stdlib_needs_no_fetch(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "mod.py").write_text("def f(x):\n    return x + 1\n\n" * 40)
    monkeypatch.setattr(stdlib_code, "stdlib_root", lambda: lib)
    folder, results = run_isolated("char-lm", tmp_path / "run",
                                   overrides={**TINY, "data_dir": str(tmp_path / "empty")})
    runs = {r["cell"]: r for r in results["runs"]}
    assert "blocklab data fetch shakespeare" in runs["shakespeare-nanogpt-cpu"]["message"]
    assert runs["stdlib-code"]["status"] == "done"  # read in place, as tinytorch-copilot reads it
    model, tok = load_text_model(folder / "models" / "stdlib-code" / "seed0")  # with its tokenizer
    greedy = continue_text(model, tok, "\n", TINY["sample_chars"], temperature=0).text
    assert greedy == runs["stdlib-code"]["metrics"]["samples"]["greedy"]  # the saved model is the one sampled


def test_windows_pair_each_character_with_the_next():
    ids = np.arange(100)
    rows = windows(ids, 8, np.array([0, 5, 91]))  # (3, 9)
    x, y = rows[:, :-1], rows[:, 1:]
    assert x.shape == y.shape == (3, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and x[2].tolist() == list(range(91, 99)) and y[2, -1] == 99


def test_next_token_is_the_mean_cross_entropy_over_every_position():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16, max_len=5))
    rows = torch.randint(0, 7, (3, 6))
    x, y = rows[:, :-1], rows[:, 1:]
    loss, _ = next_token(model, (rows,))
    logp = model(x).log_softmax(-1)
    manual = -logp.gather(-1, y[..., None]).mean()
    assert torch.allclose(loss, manual, atol=1e-6)


def test_a_huge_learning_rate_diverges_both_models_and_the_study_still_reports(tmp_path, corpora):
    check_divergence("char-lm", tmp_path / "run", {**TINY, "train.lr": HUGE_LR, "data_dir": str(corpora)}, diverged=2)
