"""length-generalization: the addition task's encoding and scoring, the digit indices fed to
Abacus and coupling, and a tiny run through the runner."""
import torch

from blocklab.nn import GPT
from blocklab.studies.length_generalization import models
from blocklab.studies.length_generalization import study as _registers  # noqa: F401  (run_isolated needs it)
from blocklab.tasks import long_addition

from .isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated

# 12 + 345 at 3 digits: operands most significant first, the sum 357 as 4 digits units first.
LINE = [0, 1, 2, 10, 3, 4, 5, 11, 7, 5, 3, 0]


def test_reversed_answer_encoding_matches_a_hand_example():
    lines = long_addition.encode([12, 999], [345, 1], 3)
    assert lines[0].tolist() == LINE
    assert lines[1].tolist() == [9, 9, 9, 10, 0, 0, 1, 11, 0, 0, 0, 1]  # 1000, reversed
    assert long_addition.value(lines[1, 8:].tolist()) == 1000
    assert long_addition.answer_mask(lines)[0].tolist() == [False] * 7 + [True] * 4  # targets 7 5 3 0


def test_sampled_lines_add_up_at_forty_digits():
    lines = long_addition.sample(20, 40, torch.Generator().manual_seed(0))  # (20, 123)
    for row in lines.tolist():
        a, b = int("".join(map(str, row[:40]))), int("".join(map(str, row[41:81])))
        assert long_addition.value(row[82:]) == a + b


def test_training_rows_mix_digits_and_pad_after_the_answer():
    rows = long_addition.training_rows(30, 3, seed=0)  # (30, 12)
    mask = long_addition.answer_mask(rows)
    assert sorted(set(mask.sum(1).tolist())) == [2, 3, 4]  # d + 1 answer digits for d = 1, 2, 3
    assert ((rows[:, 1:] == long_addition.PAD) & mask).sum() == 0


def test_exact_match_needs_every_digit():
    truth = torch.tensor([[7, 5, 3, 0], [7, 5, 3, 0], [7, 5, 3, 0]])
    pred = torch.tensor([[7, 5, 3, 0], [7, 5, 3, 1], [0, 5, 3, 0]])
    assert long_addition.exact_match(pred, truth).tolist() == [True, False, False]


class Oracle(torch.nn.Module):
    """Logits that put the true next token first (each row found in `lines` by its prefix), so
    greedy decoding must return the answers."""

    def __init__(self, lines):
        super().__init__()
        self.lines = lines

    def forward(self, seq):
        row = (self.lines[None, :, : seq.shape[1]] == seq[:, None]).all(-1).float().argmax(1)  # (B,)
        nxt = self.lines[row, seq.shape[1]]  # (B,)
        return torch.nn.functional.one_hot(nxt, long_addition.VOCAB).float()[:, None].expand(-1, seq.shape[1], -1)


def test_greedy_decoding_writes_d_plus_one_digits_from_the_prompt():
    lines = long_addition.encode([12, 999, 500], [345, 1, 499], 3)
    answers = models.greedy_answers(Oracle(lines), lines, 3, batch=2)
    assert answers.tolist() == lines[:, 8:].tolist()
    assert long_addition.exact_match(answers, lines[:, 8:]).all()


def test_digit_positions_for_a_hand_example():
    lines = torch.tensor([LINE])
    assert long_addition.positions(lines, "abacus").tolist() == [[1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4]]
    # coupling: significance, units 1; the operands' units are last, the answer's first
    assert long_addition.positions(lines, "coupling").tolist() == [[3, 2, 1, 0, 3, 2, 1, 0, 1, 2, 3, 4]]


def test_digit_gpt_feeds_the_task_positions():
    lines = torch.tensor([LINE, [long_addition.PAD] * 12])
    for kind in ("abacus", "coupling"):
        torch.manual_seed(0)
        gpt = GPT(models.gpt_config(kind, long_addition.VOCAB, 16, 1, 2, max_len=16, span=16)).eval()
        expected = gpt(lines, positions=long_addition.positions(lines, kind))
        assert torch.equal(models.DigitGPT(gpt)(lines), expected)
        assert not torch.equal(gpt(lines, positions=torch.zeros_like(lines)), expected)


def test_tiny_run_completes_with_leaderboard_figure_and_measurements(tmp_path):
    tiny = {"sortedness_encodings": ["none"], "retrieval_encodings": ["sinusoidal"], "addition_encodings": ["abacus"],
            "train_lengths": [4, 5], "test_lengths": [4, 8], "retrieval_far": 12, "n_train": 64, "n_val": 16,
            "n_eval": 8, "addition_train_digits": 2, "addition_test_digits": [2, 3], "addition_steps": 2,
            "n_eval_addition": 4, "train.steps": 2, "train.eval_every": 1, "width": 8, "addition_width": 8}
    folder, results = run_isolated("length-generalization", tmp_path, overrides=tiny)
    assert results["complete"]
    assert (folder / "figures" / "length_generalization.png").is_file()
    runs = {r["cell"]: r["metrics"] for r in results["runs"]}
    assert set(runs) == {"sortedness-none", "first-vs-last-sinusoidal", "addition-abacus"}
    assert kept_kinds(folder) == {(cell, 0): "GPT" for cell in runs}  # the GPT inside each wrapper
    assert set(runs["first-vs-last-sinusoidal"]["acc"]) == {"4", "8", "12"}
    assert set(runs["addition-abacus"]["acc"]) == {"2", "3"}
    assert all(m["train_cpu_s"] > 0 for m in runs.values())
    claims = {m["claim_id"] for m in results["measurements"]}
    assert claims == {"C002-05", "C002-06", "C000-11"}


def test_a_huge_learning_rate_diverges_every_model_and_the_study_still_reports(tmp_path):
    tiny = {"sortedness_encodings": ["none"], "retrieval_encodings": ["sinusoidal"], "addition_encodings": ["abacus"],
            "train_lengths": [4, 5], "test_lengths": [4, 8], "retrieval_far": 12, "n_train": 64, "n_val": 16,
            "n_eval": 8, "addition_train_digits": 2, "addition_test_digits": [2, 3], "addition_steps": 4,
            "n_eval_addition": 4, "train.steps": 4, "train.eval_every": 2, "width": 8, "addition_width": 8}
    check_divergence("length-generalization", tmp_path, {**tiny, "train.lr": HUGE_LR}, diverged=3)
