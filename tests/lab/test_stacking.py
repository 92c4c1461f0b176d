"""Seeds trained together in `blocklab run`: a study's stacked cells give the metrics of their seeds run
alone (`--jobs 1`, and on worker processes), one seed's divergence stays its own, finished seeds are not
run again, and a stack that fails fails each of its seeds, to be retried."""
from __future__ import annotations

import pytest

from blocklab.lab.registry import Cell
from blocklab.lab.runner import run_study, units
from blocklab.report import results as res

from .stacked_study import EXPLODING_SEED, FailingStack, StackedTiny, register_stacked

TIMING = ("seconds", "notes")  # a stacked run's seconds are its stack's share, and its notes say so


class NeverStacked(StackedTiny):
    def stacks(self, cell, cfg):
        return False


def _runs(folder) -> list[dict]:
    return res.load(folder / "results.json")["runs"]


def _same_metrics(got: list[dict], want: list[dict]) -> None:
    assert [(r["cell"], r["seed"], r["status"]) for r in got] == [(r["cell"], r["seed"], r["status"]) for r in want]
    for g, w in zip(got, want):
        _close({k: v for k, v in g["metrics"].items() if k not in TIMING},
               {k: v for k, v in w["metrics"].items() if k not in TIMING}, f"{g['cell']} seed {g['seed']}")


def _close(a, b, where: str) -> None:
    """a equals b, floats up to rounding, through nested dicts and lists (results.json's metrics)."""
    if isinstance(b, dict):
        # fit's step records add per-group diagnostics (grad_norm/<group>), which fit_stacked does not keep
        keys = a.keys() if where.endswith("steps_log") else b.keys()
        assert a.keys() == keys and keys <= b.keys(), where
        for key in keys:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), where
        for x, y in zip(a, b):
            _close(x, y, where)
    elif isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-7), where
    else:
        assert a == b, where


def test_stacked_seeds_give_the_metrics_of_their_runs_alone(monkeypatch, tmp_path):
    register_stacked(monkeypatch, NeverStacked)
    alone = _runs(run_study("tiny-stacked", seeds=3, quick=True, out=tmp_path / "alone"))
    register_stacked(monkeypatch)
    stacked = _runs(run_study("tiny-stacked", seeds=3, quick=True, out=tmp_path / "stacked"))
    _same_metrics(stacked, alone)
    status = {(r["cell"], r["seed"]): r["status"] for r in stacked}
    assert status[("explode", EXPLODING_SEED)] == "diverged"  # one seed's overflow is its own
    assert [s for (c, _), s in status.items() if c == "explode"].count("done") == 2
    notes = {(r["cell"], r["seed"]): " ".join(r["metrics"]["notes"]) for r in stacked}
    assert "trained together with seeds [0, 1, 2]" in notes[("lr=0.01", 0)]
    assert "trained together" not in notes[("alone", 0)]  # the cell that does not stack ran alone


def test_worker_processes_stack_as_the_driver_does(monkeypatch, tmp_path):
    register_stacked(monkeypatch)
    here = _runs(run_study("tiny-stacked", seeds=2, quick=True, out=tmp_path / "one"))
    workers = _runs(run_study("tiny-stacked", seeds=2, quick=True, out=tmp_path / "two", jobs=2))
    _same_metrics(workers, here)


def test_only_the_pending_seeds_train_and_a_failed_stack_is_retried(monkeypatch, tmp_path):
    register_stacked(monkeypatch, FailingStack)
    first = _runs(run_study("tiny-stacked", seeds=2, quick=True, out=tmp_path / "run"))
    failed = {(r["cell"], r["seed"]) for r in first if r["status"] == "failed"}
    # seed 1 cannot be prepared: its stacks fail whole (seed 0 with them); the cell run alone loses seed 1 only
    assert failed == {("lr=0.01", 0), ("lr=0.01", 1), ("lr=0.03", 0), ("lr=0.03", 1), ("explode", 0),
                      ("explode", 1), ("alone", 1)}
    register_stacked(monkeypatch)
    second = _runs(run_study("tiny-stacked", seeds=4, quick=True, out=tmp_path / "run"))
    # the retried and new seeds of a stacked cell train as one stack; ("alone", 0) finished and is not rerun
    assert sorted(StackedTiny.prepared) == sorted([(c, s) for c in ("lr=0.01", "lr=0.03", "explode") for s in range(4)]
                                                  + [("alone", s) for s in (1, 2, 3)])
    register_stacked(monkeypatch)
    fresh = _runs(run_study("tiny-stacked", seeds=4, quick=True, out=tmp_path / "fresh"))
    _same_metrics(second, fresh)


def test_units_hold_every_pending_seed_of_a_stacked_cell_at_its_first_place():
    study = StackedTiny()
    a, b, alone = (Cell(n, p) for n, p in (("a", {}), ("b", {}), ("alone", {"alone": True})))
    pending = [(a, 0), (alone, 0), (b, 0), (a, 1), (alone, 1), (a, 2), (b, 3)]
    assert units(study, None, pending) == [(a, (0, 1, 2)), (alone, (0,)), (b, (0, 3)), (alone, (1,))]
