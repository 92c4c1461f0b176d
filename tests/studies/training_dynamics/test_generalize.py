"""The generalization cells of training-dynamics: their splits, the probes' classifications on
hand examples and on models whose answers are known, and tiny real runs with metric ranges."""
from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from blocklab.errors import ConfigError
from blocklab.io import jsonable
from blocklab.lab.registry import CellContext
from blocklab.studies.training_dynamics import probes
from blocklab.studies.training_dynamics.generalize import (
    GeneralizationConfig,
    build_task,
    combinations_task,
    generalization_cells,
    generalization_figures,
    generalization_measurements,
    run_generalization_cell,
)
from blocklab.tasks.operations import OPS, TOKEN, apply_op, args_of, encode
from blocklab.train import TrainConfig

TINY = dict(gen_n_train=320, gen_n_eval=60, gen_epochs=1, long_epochs=2,
            gen_train=TrainConfig(batch_size=64, lr=3e-3, eval_every=None, log_every=None),
            length_encodings=("rope",), test_lengths=(2, 3, 8), n_length_rows=5)


def rows_text(*texts):
    return torch.tensor([encode(t) for t in texts])


def multisets(x):
    return {tuple(sorted(a)) for a in args_of(x).tolist()}


def test_held_out_split_keeps_each_ops_digit_out_of_train_and_val_and_in_every_test_row():
    cfg = GeneralizationConfig(gen_n_train=2000, gen_n_eval=500)
    task = build_task("held-out", cfg, seed=3)
    for k, (op, digit) in enumerate(zip(OPS, cfg.held_out_digits)):
        for split in ("train", "val"):
            x, _, op_index = task.splits[split]
            assert not (args_of(x[op_index == k]) == digit).any(), f"{op} met its held-out {digit} in {split}"
        x, _, op_index = task.splits["test"]
        assert (args_of(x[op_index == k]) == digit).any(dim=1).all(), f"a {op} test row lacks {digit}"


def test_unseen_combinations_split_shares_no_multiset_between_splits_for_any_op():
    task = combinations_task(n_train=1500, n_val=300, n_test=300, seed=1)
    bags = {name: multisets(split[0]) for name, split in task.splits.items()}
    assert not bags["train"] & bags["test"] and not bags["train"] & bags["val"] and not bags["val"] & bags["test"]
    assert len(bags["train"]) > len(bags["test"]) > 10  # cut in proportion 5:1:1 of the 220 multisets
    x, y, op_index = task.splits["test"]
    assert torch.bincount(op_index).tolist() == [60] * 5
    truth = [apply_op(OPS[k], a) + TOKEN["0"] for k, a in zip(op_index.tolist(), args_of(x).tolist())]
    assert y.tolist() == truth


def test_ordering_groups_on_a_hand_example():
    train = rows_text("Max(5,3,9)", "Min(1,2,3)")
    test = rows_text("Max(5,3,9)", "Max(9,5,3)", "Min(3,2,1)", "Max(1,2,3)", "Min(5,3,9)", "Max(5,5,3)")
    assert probes.ordering_groups(train, test) == ["seen", "reordered", "reordered", "unseen", "unseen", "unseen"]


def test_structure_counts_equal_arguments():
    x = rows_text("Max(0,0,0)", "Max(5,5,3)", "Min(2,7,2)", "Max(1,2,3)")
    assert probes.structure(args_of(x)) == ["all-equal", "tie", "tie", "distinct"]
    assert probes.structure(torch.tensor([[7, 7], [1, 2], [4, 4]])) == ["all-equal", "distinct", "all-equal"]
    assert probes.structure(torch.tensor([[1, 2, 3, 1], [1, 2, 3, 4]])) == ["tie", "distinct"]


class Oracle(nn.Module):
    """A stand-in model that answers one op's answer at every position, whatever the op token says."""

    def __init__(self, op: str) -> None:
        super().__init__()
        self.op, self.cfg = op, SimpleNamespace(max_len=50)
        self.unused = nn.Parameter(torch.zeros(1))  # so the probes can find a device

    def forward(self, x):
        answers = torch.tensor([apply_op(self.op, a) for a in args_of(x).tolist()]) + TOKEN["0"]
        return nn.functional.one_hot(answers, 20).float()[:, None, :].expand(-1, x.shape[1], -1) * 10


def test_middle_probe_names_the_op_a_model_imitates_with_known_agreements():
    """A model that always answers the second argument agrees with Second on every triple and with
    the median on a third of distinct triples (b is the middle value in 2 of the 6 orders)."""
    scores = probes.middle_zero_shot(Oracle("Second"))
    assert scores["mimics"] == "Second" and scores["agree_distinct"]["Second"] == 100.0
    assert scores["agree_distinct"]["median"] == pytest.approx(100 / 3, abs=1e-4)
    assert scores["agree_distinct"]["First"] == 0.0 and scores["answer_is_an_argument"] == 100.0


def test_edge_probe_and_lengths_on_a_model_that_always_answers_max():
    edge = probes.edge_cases(Oracle("Max"))
    assert all(edge["by_op"]["Max"][s]["acc"] == 100.0 for s in probes.STRUCTURES)
    assert edge["by_op"]["Max"]["distinct"]["n"] == 720 and edge["by_op"]["Max"]["all-equal"]["n"] == 10
    assert edge["by_op"]["Min"]["distinct"]["acc"] == 0.0 and edge["by_op"]["Min"]["all-equal"]["acc"] == 100.0
    assert edge["by_op"]["First"]["distinct"]["acc"] == pytest.approx(100 / 3, abs=1e-4)  # a is the max in 1/3
    assert edge["examples"]["Max(0,0,0)"] == {"answer": "0", "p": pytest.approx(1.0, abs=1e-3), "correct": True}
    assert edge["examples"]["Min(2,7,2)"]["answer"] == "7" and not edge["examples"]["Min(2,7,2)"]["correct"]
    lengths = probes.lengths(Oracle("Max"), (2, 8), n_per_op=20, seed=0)
    assert lengths["8"]["by_op"]["Max"] == 100.0 and lengths["2"]["by_op"]["Max"] == 100.0


def test_config_rejects_bad_knobs_naming_them():
    with pytest.raises(ConfigError, match="held_out_digits"):
        GeneralizationConfig(held_out_digits=(1, 2))
    with pytest.raises(ConfigError, match="length_encodings"):
        GeneralizationConfig(length_encodings=("wavelet",))


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    """Three cells run for real at a tiny size, as results.json would hold them."""
    cfg = GeneralizationConfig(**TINY)
    cells = [c for c in generalization_cells(cfg)
             if c.name in ("gen-seed-split", "gen-held-out-values", "gen-long-disjoint-split")]
    runs = []
    for cell in cells:
        work = tmp_path_factory.mktemp(cell.name)
        ctx = CellContext("training-dynamics", cfg, cell, 0, "cpu", work, True, lambda *a, **k: None,
                          logging.getLogger("test"), work / "model")
        torch.manual_seed(0)
        runs.append({"cell": cell.name, "seed": 0, "status": "done",
                     "metrics": jsonable(run_generalization_cell(cell, 0, ctx))})
    return {"cells": [dataclasses.asdict(c) for c in cells], "runs": runs, "config": dataclasses.asdict(cfg)}


def test_tiny_cells_report_metrics_in_range(tiny_results):
    by_cell = {r["cell"]: r["metrics"] for r in tiny_results["runs"]}
    for m in by_cell.values():
        assert 0 <= m["test_acc"] <= 100 and 0 <= m["val_acc"] <= 100
        assert set(m["lengths"]) == {"2", "3", "8"} and all(0 <= v["acc"] <= 100 for v in m["lengths"].values())
        assert m["middle"]["mimics"] in OPS and 0 <= m["middle"]["acc_median"] <= 100
        assert set(m["edge"]["examples"]) == set(probes.EXAMPLES)
    groups = by_cell["gen-seed-split"]["orderings"]
    assert sum(g["n"] for g in groups.values()) == TINY["gen_n_eval"]
    assert by_cell["gen-long-disjoint-split"]["orderings"]["seen"]["n"] == 0  # disjoint: no test row was trained
    curve = by_cell["gen-long-disjoint-split"]["curve"]
    assert curve["epoch"] == [1.0, 2.0] and all(v > 0 for v in curve["train_eval_loss"] + curve["val_eval_loss"])
    held = by_cell["gen-held-out-values"]["held_out"]
    assert [held[op]["digit"] for op in OPS] == list(GeneralizationConfig().held_out_digits)
    assert all(0 <= held[op]["acc"] <= 100 for op in OPS)


def test_figures_and_measurements_read_only_the_results(tiny_results, tmp_path):
    names = generalization_figures(tiny_results, tmp_path)
    assert names and all((tmp_path / n).stat().st_size > 0 for n in names)
    parts = generalization_measurements(tiny_results)
    assert [m.claim_id for m in parts] == ["C001-14"] * 3
    held = next(m for m in parts if m.part == "unseen argument values")
    assert held.values == [tiny_results["runs"][1]["metrics"]["test_acc"]]
    assert next(m for m in parts if m.part == "unseen combinations").values == []  # that cell did not run
