"""Run one registered study at a tiny size with no other study module imported, so that a
study's tests do not depend on the state of the others."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blocklab.cli import main
from blocklab.lab import registry, runner
from blocklab.report import results as res

HUGE_LR = 1e6  # no trainer survives an update this large: the step after the first diverges


def run_isolated(name: str, out: Path, seeds: int = 1, overrides: dict[str, Any] | None = None) -> tuple[Path, dict]:
    """(run folder, loaded results.json) of `blocklab run NAME --quick` with these --set overrides."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (registry, runner):
            mp.setattr(module, "load_all", lambda: None)
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        folder = runner.run_study(name, seeds=seeds, quick=True, out=out, overrides=overrides or {})
    return folder, res.load(folder / "results.json")


def run_cli_isolated(*args: str) -> int:
    """`blocklab ARGS` in this process, with only the studies imported so far registered; its exit code."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (registry, runner):
            mp.setattr(module, "load_all", lambda: None)
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        try:
            main(list(args))
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else 1
    return 0


def check_divergence(name: str, out: Path, overrides: dict[str, Any], diverged: int, seeds: int = 1,
                     all_null: bool = True) -> dict:
    """`blocklab run NAME --quick --seeds SEEDS --set ...` where the overrides give every trainer HUGE_LR: exit 0,
    a complete results.json in which `diverged` pairs are recorded as diverged and the others as done, figures and
    measurements; then, with `all_null`, check_survives_divergence on the same results with every float null (a
    study whose own tests already do that passes False). Returns the results."""
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={json.dumps(value)}")]
    code = run_cli_isolated("run", name, "--quick", "--jobs", "1", "--seeds", str(seeds), "--out", str(out), *sets)
    results = res.load(out / "results.json")
    statuses = [r["status"] for r in results["runs"]]
    assert code == 0 and results["complete"] and "error" not in results, [r["message"] for r in results["runs"]]
    assert statuses.count("diverged") == diverged and statuses.count("done") == len(statuses) - diverged, statuses
    assert all(r["metrics"].get("diverged") for r in results["runs"] if r["status"] == "diverged")
    assert results["figures"] and {m["claim_id"] for m in results["measurements"]} == set(registry.STUDIES[name].claims)
    if all_null:
        check_survives_divergence(name, results, out / "poisoned")
    return results


def diverged_copy(results: dict) -> dict:
    """`results` as if every training pair had diverged: each run "diverged" with diverged=true, and every float in
    its metrics null (as a NaN is stored), while counts and steps (ints) stay. Figures, tables and measurements of
    a study must read it without raising."""
    def poison(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: True if k == "diverged" else poison(v) for k, v in value.items()}
        if isinstance(value, list):
            return [poison(v) for v in value]
        return None if isinstance(value, float) else value

    copy = {**results, "runs": [{**r, "status": "diverged", "metrics": poison(r["metrics"])} for r in results["runs"]]}
    copy["aggregates"] = res.aggregate(copy)
    return copy


def check_survives_divergence(name: str, results: dict, fig_dir: Path) -> None:
    """The study's figures, measurements and tables all come out of diverged_copy(results)."""
    study = registry.STUDIES[name]()
    poisoned = diverged_copy(results)
    names = runner.draw_figures(study, poisoned, fig_dir)
    assert names and all((fig_dir / "figures" / n).is_file() for n in names)
    assert study.measure(poisoned) is not None and study.tables(poisoned) is not None
