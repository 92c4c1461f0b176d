"""`blocklab run all`: every registered study runs, one that stops with an error does not stop the
rest, and the closing table gives each study's status, wall time and pairs."""
from __future__ import annotations

import pytest

from blocklab.lab import registry
from blocklab.lab.runner import run_study
from blocklab.report import results as res

from .tiny_study import LRS, TinyStudy, run_cli


class BrokenFigures(TinyStudy):
    name = "tiny-broken"
    description = "the test study with a bug in figures()"

    def figures(self, results, fig_dir):
        raise RuntimeError("a bug in figures")


@pytest.fixture
def two_studies(tiny):
    registry.register(BrokenFigures)  # into the registry the `tiny` fixture emptied for this test


def _table(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    start = lines.index(next(x for x in lines if x.startswith("study ")))
    rows = [line for line in lines[start + 1:] if not line.startswith(("total", "results"))]
    return {line.split()[0]: line.split()[1:] for line in rows}


def test_all_runs_every_study_past_one_that_stops_with_an_error(two_studies, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "run", "all", "--quick", "--seeds", "1", "--out", str(tmp_path))
    assert code == 1  # a study stopped with an error
    table = _table(out)
    assert set(table) == {"tiny", "tiny-broken"}
    assert table["tiny"][0] == "complete" and table["tiny"][2:] == ["2", "1", "0"]
    assert table["tiny-broken"][0] == "error" and table["tiny-broken"][2:] == ["2", "1", "0"]  # its pairs ran
    for name, row in table.items():
        assert float(row[1]) == pytest.approx(res.load(tmp_path / name / "results.json")["timing"]["wall"], abs=0.05)
    assert "total" in out and "s wall for 2 studies" in out
    broken = res.load(tmp_path / "tiny-broken" / "results.json")
    assert broken["error"] == "RuntimeError: a bug in figures"
    assert "Traceback" in (tmp_path / "tiny-broken" / "log.txt").read_text()
    assert "error" not in res.load(tmp_path / "tiny" / "results.json")
    # rerun: nothing is recomputed, the error is raised again and kept again
    TinyStudy.calls.clear()
    code, _, _ = run_cli(capsys, "run", "all", "--quick", "--seeds", "1", "--out", str(tmp_path))
    assert code == 1 and TinyStudy.calls == []


def test_a_single_study_that_stops_with_an_error_raises_it(two_studies, tmp_path):
    with pytest.raises(RuntimeError, match="a bug in figures"):
        run_study("tiny-broken", seeds=1, quick=True, out=tmp_path)
    assert res.load(tmp_path / "results.json")["error"] == "RuntimeError: a bug in figures"


def test_a_user_error_in_a_group_still_stops_it(two_studies, tmp_path, capsys):
    run_study("tiny", seeds=1, quick=True, out=tmp_path / "tiny", overrides={"steps": 30})
    code, _, err = run_cli(capsys, "run", "all", "--quick", "--seeds", "1", "--out", str(tmp_path))
    assert code == 2 and "was run with another config" in err
    assert not (tmp_path / "tiny-broken").exists()  # checked before any study ran
    assert len(LRS) == len(res.load(tmp_path / "tiny" / "results.json")["runs"])
