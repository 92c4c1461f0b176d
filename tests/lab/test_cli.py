"""The CLI verbs list, run and plot, and their exit codes: 2 for any user error, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from blocklab.lab import registry
from blocklab.report import results as res
from blocklab.report.verdicts import MIN_SEEDS
from blocklab.studies import catalogue

from .tiny_study import FIGURES, TinyStudy, run_cli


def test_the_catalogue_names_what_the_studies_register():
    """`blocklab list` reads the catalogue, not the studies; it must say what importing them registers,
    in the order a group runs them (registration order depends on which test imported a study first)."""
    registry.load_all()
    registered = {(s.name, s.description, s.group, s.__module__, s.seeds) for s in registry.STUDIES.values()}
    catalogued = [(e.name, e.description, e.group, e.module, e.seeds) for e in catalogue.CATALOGUE]
    assert set(catalogued) == registered, "name every study in src/blocklab/studies/catalogue.py as its class does"
    assert len(catalogued) == len(registered)
    assert [catalogue.members(g, catalogue.CATALOGUE) for g in [*catalogue.GROUPS, catalogue.ALL]] == \
        [registry.group_members(g) for g in [*registry.GROUPS, registry.ALL]]


def test_list_shows_each_study_with_its_seeds_and_description(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    for entry in catalogue.CATALOGUE:
        assert any(line.split()[:2] == [entry.name, str(entry.seeds)] and line.endswith(entry.description)
                   for line in lines)
    groups = lines[lines.index("groups (each runs its studies into subfolders):") + 1:]
    assert groups[-1].startswith("all ") and groups[-1].endswith(f"[{', '.join(e.name for e in catalogue.CATALOGUE)}]")


def test_list_says_so_when_nothing_is_registered(capsys, monkeypatch):
    monkeypatch.setattr(catalogue, "CATALOGUE", ())
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "no studies are registered yet" in out


def test_run_prints_a_summary_and_where_the_results_are(tiny, capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", "tiny", "--quick", "--seeds", "2", "--out", str(tmp_path))
    assert code == 0, err
    assert "tiny: 4 done, 2 diverged, 0 failed" in out and str(tmp_path) in out


def test_every_study_runs_enough_seeds_at_full_fidelity():
    """Issue 19: at least MIN_SEEDS (what a claim needs before its verdict stops being provisional) for every study,
    and 10 for some (the cheap ones); a study whose default fell below would only ever give provisional verdicts."""
    registry.load_all()
    seeds = {name: study.seeds for name, study in registry.STUDIES.items()}
    assert min(seeds.values()) >= MIN_SEEDS, seeds
    assert max(seeds.values()) >= 10, seeds


def test_run_without_seeds_gives_the_study_its_own_default(tiny, capsys, tmp_path, monkeypatch):
    """The study's `seeds` reaches the runner at full fidelity, --quick keeps 3 and --seeds N overrides both;
    `show` and `run --dry-run` say the same."""
    monkeypatch.setattr(tiny, "seeds", 2)
    monkeypatch.setattr(tiny, "quick", {"steps": 5})
    for args, expected in [((), [0, 1]), (("--quick",), [0, 1, 2]), (("--seeds", "1"), [0]),
                           (("--quick", "--seeds", "4"), [0, 1, 2, 3])]:
        folder = tmp_path / "-".join(args or ["default"])
        code, out, err = run_cli(capsys, "run", "tiny", "--set", "steps=5", "--out", str(folder), "--dry-run", *args)
        assert code == 0 and f"3 cells x {len(expected)} seeds" in out, (args, out, err)
        code, _, err = run_cli(capsys, "run", "tiny", "--set", "steps=5", "--out", str(folder), *args)
        assert code == 0, err
        results = res.load(folder / "results.json")
        assert results["seeds"] == expected and {r["seed"] for r in results["runs"]} == set(expected), args
        assert f"--seeds {len(expected)}" in results["command"]
    code, out, _ = run_cli(capsys, "show", "tiny")
    assert code == 0 and "seeds: 2 (--quick: 3;" in out


def test_a_study_with_a_bad_seed_count_is_refused_when_registered(monkeypatch):
    monkeypatch.setattr(registry, "STUDIES", {})
    for bad in (0, 2.5, True):
        monkeypatch.setattr(TinyStudy, "seeds", bad)
        with pytest.raises(TypeError, match="seeds="):
            registry.register(TinyStudy)


def test_a_failed_pair_makes_run_exit_1(tiny, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(TinyStudy, "fail", ("lr=0.1", 0))
    code, out, _ = run_cli(capsys, "run", "tiny", "--quick", "--seeds", "1", "--out", str(tmp_path))
    assert code == 1 and "1 failed" in out


def test_unknown_study_exits_2_naming_the_choices(tiny, capsys):
    code, _, err = run_cli(capsys, "run", "tinny")
    assert code == 2
    assert err.startswith("error: unknown study 'tinny'") and "tiny" in err and "building-blocks" in err


def test_unknown_set_key_exits_2_naming_the_valid_keys(tiny, capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "tiny", "--out", str(tmp_path), "--set", "stepz=3")
    assert code == 2 and "stepz=3" in err and "valid keys: steps, slope, noise, points, label" in err
    assert not (tmp_path / "results.json").exists()


def test_bad_set_value_exits_2_naming_the_type(tiny, capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "tiny", "--out", str(tmp_path), "--set", "steps=lots")
    assert code == 2 and "steps='lots'" in err and "must be a positive integer" in err


def test_corrupt_results_exits_2_naming_the_file(tiny, capsys, tmp_path):
    run_cli(capsys, "run", "tiny", "--quick", "--seeds", "1", "--out", str(tmp_path))
    path = tmp_path / "results.json"
    path.write_text(path.read_text()[:200])  # as if the disk had filled up mid-write
    for verb in (["run", "tiny", "--quick", "--seeds", "1", "--out", str(tmp_path)], ["plot", str(tmp_path)],
                 ["report", str(tmp_path)]):
        code, _, err = run_cli(capsys, *verb)
        assert code == 2 and str(path) in err and "corrupt" in err, (verb, err)


def test_changed_config_exits_2(tiny, capsys, tmp_path):
    run_cli(capsys, "run", "tiny", "--quick", "--seeds", "1", "--out", str(tmp_path))
    code, _, err = run_cli(capsys, "run", "tiny", "--seeds", "1", "--out", str(tmp_path))
    assert code == 2 and "steps: stored 60, asked 200" in err


def test_plot_recreates_deleted_figures_without_running(tiny, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(TinyStudy, "draw", True)
    run_cli(capsys, "run", "tiny", "--quick", "--seeds", "2", "--out", str(tmp_path))
    for name in FIGURES:
        (tmp_path / "figures" / name).unlink()
    TinyStudy.calls.clear()
    code, out, err = run_cli(capsys, "plot", str(tmp_path))
    assert code == 0, err
    assert all((tmp_path / "figures" / n).stat().st_size > 1000 for n in FIGURES)
    assert TinyStudy.calls == [] and "redrew" in out
    assert res.load(tmp_path / "results.json")["figures"] == FIGURES


def test_plot_on_a_folder_without_results_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "plot", str(tmp_path))
    assert code == 2 and "no results.json" in err


def test_the_installed_entry_point_exits_2_on_an_unknown_study(tmp_path):
    """The real process, not the in-process helper: no traceback, code 2."""
    done = subprocess.run([sys.executable, "-m", "blocklab.cli", "run", "no-such-study"], capture_output=True,
                          text=True, cwd=tmp_path, env={**os.environ, "BLOCKLAB_NO_PROGRESS": "1"})
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown study 'no-such-study'; choose one of:")
    assert "Traceback" not in done.stderr
