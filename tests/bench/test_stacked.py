"""`blocklab bench stacked`: a study's seeds timed alone and together on the cell the runner would train, at a
tiny size. The times are printed and stored, never asserted; what is timed and what is refused are."""
from __future__ import annotations

import json

import pytest

from lab.stacked_study import StackedTiny, register_stacked
from lab.tiny_study import run_cli as run


def test_the_study_prepares_every_seed_of_each_k_twice_and_the_json_holds_each_row(monkeypatch, capsys, tmp_path):
    register_stacked(monkeypatch)
    code, out, err = run(capsys, "bench", "stacked", "--study", "tiny-stacked", "--cell", "lr=0.03", "--seeds", "2,3",
                         "--steps", "4", "--config", "quick", "--out", str(tmp_path))
    assert code == 0, err
    # seed 0 to read the config's steps, the 2-seed warm-up, then per K: K seeds alone and the same K for the stack
    assert StackedTiny.prepared == [("lr=0.03", s) for s in (0, 0, 1, 0, 1, 0, 1, 0, 1, 2, 0, 1, 2)]
    rows = json.loads((tmp_path / "stacked-tiny-stacked.json").read_text())["results"]["rows"]
    assert [(r["config"], r["cell"], r["steps"], r["k"]) for r in rows] == [("quick", "lr=0.03", 4, 2),
                                                                          ("quick", "lr=0.03", 4, 3)]
    for r in rows:  # the ratio is of the K runs' totals: the per-model figures divided by K round otherwise
        assert r["alone_s"] > 0 and r["stacked_s"] > 0 and r["ratio"] == pytest.approx(r["stacked_s"] / r["alone_s"])
    assert "stacked/alone" in out


def test_a_study_that_does_not_prepare_its_cells_or_an_unknown_cell_is_one_line(monkeypatch, capsys, tmp_path):
    register_stacked(monkeypatch)
    code, _, err = run(capsys, "bench", "stacked", "--study", "tiny-stacked", "--cell", "nope", "--out", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "--cell 'nope'" in err and "lr=0.01, lr=0.03" in err
    code, _, err = run(capsys, "bench", "stacked", "--study", "tiny-stacked", "--seeds", "3,3")
    assert code == 2 and "none empty or repeated" in err
    monkeypatch.delattr(StackedTiny, "prepare")
    code, _, err = run(capsys, "bench", "stacked", "--study", "tiny-stacked", "--out", str(tmp_path))
    assert code == 2 and "do not build their training with Study.prepare" in err
    assert not list(tmp_path.iterdir())  # a refused command writes nothing
