"""Seed 004's Copilot: the code corpus, its metrics, and the study's checkpoints through
`blocklab generate`, all on a tiny source tree made here (not the stdlib)."""
from __future__ import annotations

from pathlib import PurePosixPath

import pytest
import torch

from blocklab.lab.runner import run_study
from blocklab.nn.models.saving import read_folder
from blocklab.report import results as res
from blocklab.studies.tinytorch.copilot import study as _registers  # noqa: F401  (check_divergence runs it)
from blocklab.tasks.python_code import (
    DEMOS,
    completion_scores,
    demo_checks,
    is_test_file,
    line_completions,
    load_corpus,
    split_of,
)
from lab.tiny_study import run_cli

from ..isolated import HUGE_LR, check_claim_figures, check_divergence

LIBRARY = [f"pkg/mod{i}.py" for i in range(40)]
TESTS = ["test_mod.py", "mod_test.py", "test.py", "tests/helpers.py", "pkg/test/case.py", "idle_test/x.py",
         "site-packages/third.py"]
FIGURES = ["004_copilot_loss.png", "004_copilot_decoding.png", "004_copilot_failure_modes.png",
           "004_copilot_samples.png", "004_copilot_speed.png"]


def source(i: int) -> str:
    block = (f"def add{i}(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    total = a + b\n    return total\n\n\n"
             f"class Box{i}:\n    def __init__(self, value):\n        self.value = value\n\n")
    return block * 6


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    for i, name in enumerate(LIBRARY + TESTS):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source(i) if name in LIBRARY else "SECRET = 'only in tests'\n" * 40)
    return root


def test_tests_and_third_party_code_are_excluded(tree):
    corpus = load_corpus(tree)
    used = [f for names in corpus.files.values() for f in names]
    assert sorted(used) == sorted(LIBRARY)
    assert all(is_test_file(PurePosixPath(t)) for t in TESTS) and not is_test_file(PurePosixPath("pkg/contest.py"))
    assert "SECRET" not in "".join(corpus.texts.values())


def test_split_is_by_file_fixed_by_the_path_and_without_overlap(tree):
    corpus = load_corpus(tree)
    splits = {s: set(names) for s, names in corpus.files.items()}
    assert all(splits.values()) and not (splits["train"] & splits["val"] or splits["train"] & splits["test"]
                                          or splits["val"] & splits["test"])
    for split, names in splits.items():
        assert all(split_of(PurePosixPath(n))[0] == split for n in names)
    capped = load_corpus(tree, {"train": 1000})
    assert len(capped.texts["train"]) == 1000 and capped.files["train"][0] == corpus.files["train"][0]


def test_line_completions_cut_lines_in_the_middle_of_their_code():
    text = "x" * 70 + "\n    return total\nif a:\n"  # only the middle line qualifies: 10 to 60 characters of code
    (line,) = line_completions([text], 1, context=64)
    assert line.target == " total" and line.prompt == text[17:81] and line.prompt.endswith("\n    return")


def test_exact_match_needs_the_whole_rest_of_the_line_and_its_newline():
    assert completion_scores("total\n    x", "total") == (True, 1.0)
    assert completion_scores("totals\n", "total") == (False, 1.0)  # the line goes on
    assert completion_scores("tota", "total") == (False, 0.8)
    assert completion_scores("xotal\n", "total") == (False, 0.0)


def test_demo_checks_tell_blank_valid_and_repetitive_completions():
    assert demo_checks(DEMOS[0], " - b\n") == {"line": " - b", "nonempty": True, "valid": True, "repetitive": False}
    assert demo_checks(DEMOS[1], "len(x)):\n")["valid"] and not demo_checks(DEMOS[1], "len(x)\n")["valid"]
    assert not demo_checks(DEMOS[2], "\n")["nonempty"]
    assert demo_checks(DEMOS[3], "in in in in in in")["repetitive"]


@pytest.fixture(scope="module")
def copilot_run(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("copilot")
    overrides = {"corpus_root": str(tree), "train.steps": 75, "checkpoints": [25, 75], "train.batch_size": 4,
                 "min_char_count": 1, "n_lines": 4, "demo_tokens": 8, "bench_repeats": 2}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        run_study("tinytorch-copilot", seeds=1, quick=True, out=out, overrides=overrides)
    return res.load(out / "results.json"), out


def test_copilot_trains_checkpoints_and_reports(copilot_run):
    results, out = copilot_run
    m = results["runs"][0]["metrics"]
    assert results["runs"][0]["status"] == "done"
    assert [c["step"] for c in m["checkpoints"]] == [25, 75]
    first, last = m["checkpoints"]
    assert last["val_loss"] < first["val_loss"] < m["loss_initial"]
    for c in m["checkpoints"]:
        assert set(c["decoding"]) == {"greedy", "temperature", "top_k", "top_p"}
        assert all(0 <= d["exact"] <= d["prefix"] <= 100 and 0 <= d["demos_valid"] <= 5 for d in c["decoding"].values())
        assert all(len(s["demos"]) == len(DEMOS) for s in c["samples"].values())
    assert results["figures"] == FIGURES and all((out / "figures" / f).is_file() for f in FIGURES)
    check_claim_figures("tinytorch-copilot", results)
    assert {x["claim_id"] for x in results["measurements"]} == {"C004-02", "C004-03", "C004-04"}
    kept, last_step = (read_folder(out / sub) for sub in ("models/copilot/seed0", "work/copilot/seed0/step75"))
    assert kept.tensors.keys() == last_step.tensors.keys()  # the final model is kept, with its tokenizer
    assert all(torch.equal(kept.tensors[k], last_step.tensors[k]) for k in kept.tensors) and kept.has_tokenizer


def test_generate_continues_a_prompt_alike_in_both_engines(copilot_run, capsys):
    _, out = copilot_run
    folder = out / "work" / "copilot" / "seed0" / "step75"
    texts = []
    for engine in ("numpy", "torch"):
        code, text, err = run_cli(capsys, "generate", str(folder), "def add", "--engine", engine,
                                  "--max-new-tokens", "20")
        assert code == 0, err
        texts.append(text)
    assert texts[0] == texts[1] and texts[0].startswith("def add") and len(texts[0]) == len("def add") + 20 + 1
    code, text, err = run_cli(capsys, "generate", str(folder), "x = ☃", "--max-new-tokens", "3")
    assert code == 0 and "'☃' not in the vocabulary" in err
    code, _, err = run_cli(capsys, "generate", str(folder), "x = ☃", "--strict")
    assert code == 2 and "'☃'" in err


def test_generate_names_a_missing_or_corrupt_checkpoint(copilot_run, capsys, tmp_path):
    code, _, err = run_cli(capsys, "generate", str(tmp_path / "nowhere"), "def ")
    assert code == 2 and "nowhere does not exist" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        (broken / name).write_bytes((copilot_run[1] / "work/copilot/seed0/step75" / name).read_bytes())
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    code, _, err = run_cli(capsys, "generate", str(broken), "def ")
    assert code == 2 and "model.safetensors is corrupt" in err
    (broken / "config.json").unlink()
    code, _, err = run_cli(capsys, "generate", str(broken), "def ")
    assert code == 2 and "config.json is missing" in err


def test_a_huge_learning_rate_diverges_and_the_study_still_reports(tree, tmp_path):
    overrides = {"corpus_root": str(tree), "train.steps": 75, "checkpoints": [25, 75], "train.batch_size": 4,
                 "min_char_count": 1, "n_lines": 4, "demo_tokens": 8, "bench_repeats": 2, "train.lr": HUGE_LR}
    check_divergence("tinytorch-copilot", tmp_path, overrides, diverged=1)
