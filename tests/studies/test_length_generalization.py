"""length-generalization: the addition task's encoding and scoring, the digit indices fed to
Abacus and coupling, and a tiny run through the runner."""
import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import GPT
from blocklab.studies.length_generalization import models, tables
from blocklab.studies.length_generalization import study as _registers  # noqa: F401  (run_isolated needs it)
from blocklab.studies.length_generalization.config import LengthConfig
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
    P = long_addition.PAD
    lines = torch.tensor([LINE, [1, 2, 10, 3, 4, 11, 6, 4, 0, P, P, P]])  # and 12 + 34 = 46, padded
    # abacus: each digit's significance (units 1), which is McLeish et al.'s place from a number's first
    # digit when numbers are written units first; '=' and padding 0
    assert long_addition.positions(lines, "abacus").tolist() == [[3, 2, 1, 0, 3, 2, 1, 0, 1, 2, 3, 4],
                                                                [2, 1, 0, 2, 1, 0, 1, 2, 3, 0, 0, 0]]
    # coupling: the operands as abacus; '=' and each answer digit carry the significance of the digit
    # they predict, so the token that writes the units shares index 1 with the operands' units
    assert long_addition.positions(lines, "coupling").tolist() == [[3, 2, 1, 0, 3, 2, 1, 1, 2, 3, 4, 5],
                                                                  [2, 1, 0, 2, 1, 1, 2, 3, 4, 0, 0, 0]]


def test_digit_positions_pair_every_answer_digit_with_its_columns():
    """At any number of digits, the token that predicts the answer digit of significance k carries index k
    (coupling) and that digit itself carries k (abacus), as do the operand digits of significance k."""
    lines = long_addition.sample(3, 13, torch.Generator().manual_seed(1))  # (3, 42)
    d, prompt = 13, 2 * 13 + 2
    sig = torch.arange(d, 0, -1)  # operand digits, most significant first
    for kind, shift in (("abacus", 0), ("coupling", 1)):
        pos = long_addition.positions(lines, kind)
        assert (pos[:, :d] == sig).all() and (pos[:, d + 1: 2 * d + 1] == sig).all()
        answer_index = pos[:, prompt - shift: prompt - shift + d + 1]  # the tokens that predict (or are) the answer
        assert (answer_index == torch.arange(1, d + 2)).all(), kind


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
            "n_eval": 8, "addition_train_digits": 2, "addition_test_digits": [2, 3], "addition_offset_max": 1,
            "addition_train.steps": 2, "addition_train.warmup_steps": 0, "addition_train.eval_every": 1,
            "n_eval_addition": 4, "train.steps": 2, "train.eval_every": 1,
            "retrieval_train.steps": 2, "retrieval_train.eval_every": 1, "width": 8, "addition_width": 8}
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
            "n_eval": 8, "addition_train_digits": 2, "addition_test_digits": [2, 3], "n_eval_addition": 4,
            "width": 8, "addition_width": 8, "addition_offset_max": 5,
            **{f"{t}.{k}": v for t in ("train", "retrieval_train", "addition_train")
               for k, v in (("steps", 4), ("eval_every", 2), ("warmup_steps", 0), ("lr", HUGE_LR))}}
    check_divergence("length-generalization", tmp_path, tiny, diverged=3)


def fake_results(scores: dict[tuple[str, str], list[float]], point: int) -> dict:
    """A results dict holding only accuracies at one test point: {(task, encoding): per-seed scores}."""
    cells = [{"name": f"{t}-{e}", "params": {"task": t, "encoding": e}} for t, e in scores]
    runs = [{"cell": f"{t}-{e}", "seed": s, "status": "done",
             "metrics": {"acc": {str(point): v}, "final_val_acc": 99.0}}
            for (t, e), values in scores.items() for s, v in enumerate(values)]
    config = {"width": 32, "layers": 2, "train": {"steps": 1500}, "retrieval_train": {"steps": 600},
              "addition_width": 64, "addition_layers": 2, "addition_train": {"steps": 2000}, "addition_offset_max": 40}
    return {"cells": cells, "runs": runs, "seeds": list(range(10)), "config": config}


def test_goals_table_says_which_encoding_meets_the_bar_or_by_how_much_it_misses():
    met = fake_results({("sortedness", "none"): [99.5] * 9 + [99.0], ("sortedness", "rope"): [50.0] * 10}, 256)
    (row,) = tables.goals(met).rows
    assert row[1] == "none" and row[3] == "99.0" and row[4] == "yes" and row[5] == "none 99.5, rope 50.0"
    missed = fake_results({("sortedness", "none"): [98.0] * 9 + [80.0], ("addition", "coupling"): [90.0] * 10}, 256)
    sort_row, add_row = tables.goals(missed).rows
    assert sort_row[4].startswith("no: mean 2.8 points short; interval low ")  # one seed at 80 drags it down
    assert add_row[0].startswith("addition at 256 digits: mean >= 95%") and add_row[4] == "no: mean 5.0 points short"
    assert tables.goals(fake_results({("first-vs-last", "none"): [100.0]}, 8)) is None
    tie = fake_results({("addition", "none"): [0.0] * 10, ("addition", "abacus"): [0.0] * 10}, 40)
    for run in tie["runs"]:
        run["metrics"]["acc"]["10"] = 4.0 if run["cell"] == "addition-abacus" else 0.0
    assert tables.goals(tie).rows[0][1] == "abacus", "a tie at 40 digits goes to the better mean over all points"


def test_config_refuses_digit_offsets_that_leave_test_index_rows_untrained():
    with pytest.raises(BlocklabError, match=r"LengthConfig.addition_offset_max=10 .*abacus, coupling.* at least 30"):
        LengthConfig(addition_offset_max=10, addition_encodings=("none", "abacus", "coupling"))
    LengthConfig(addition_offset_max=10, addition_encodings=("none",))  # no digit indices: nothing to cover
    LengthConfig(addition_offset_max=10, addition_test_digits=(10, 20))


def table_rows_read(model, lines):
    """The digit-index table rows the study's addition model adds to each token: (B, T) long."""
    pos = long_addition.positions(lines, model.gpt.cfg.pos_encoding)
    table = model.gpt.embed.pos.table.weight.detach()  # (rows, D)
    added = model.gpt.embed.pos.embed(torch.zeros(*lines.shape, table.shape[1]), pos)  # (B, T, D)
    return ((added[:, :, None] - table).abs().sum(-1) < 1e-9).float().argmax(-1)


def test_addition_model_trains_every_index_row_a_forty_digit_test_reads():
    """WHY: without the random offset (or with one too small) the rows past the longest training number
    are never trained, and a 40-digit test reads noise there."""
    cfg = LengthConfig()
    model = models.addition_model("coupling", cfg)
    train_lines = long_addition.sample(256, cfg.addition_train_digits, torch.Generator().manual_seed(0))
    test_index = long_addition.positions(long_addition.sample(1, max(cfg.addition_test_digits),
                                                              torch.Generator().manual_seed(1)), "coupling")
    plain = long_addition.positions(train_lines, "coupling")
    assert torch.equal(table_rows_read(model.eval(), train_lines), plain), "evaluation reads the task's indices"
    torch.manual_seed(0)
    shifted = table_rows_read(model.train(), train_lines)
    shift = (shifted - plain)[plain > 0].view(256, -1)
    assert (shift == shift[:, :1]).all() and set(shift[:, 0].tolist()) == set(range(cfg.addition_offset_max + 1))
    assert int(shifted.max()) >= int(test_index.max()) == max(cfg.addition_test_digits) + 2
