"""Run one registered study at a tiny size with no other study module imported, so that a
study's tests do not depend on the state of the others."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blocklab.lab import registry, runner
from blocklab.report import results as res


def run_isolated(name: str, out: Path, seeds: int = 1, overrides: dict[str, Any] | None = None) -> tuple[Path, dict]:
    """(run folder, loaded results.json) of `blocklab run NAME --quick` with these --set overrides."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (registry, runner):
            mp.setattr(module, "load_all", lambda: None)
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        folder = runner.run_study(name, seeds=seeds, quick=True, out=out, overrides=overrides or {})
    return folder, res.load(folder / "results.json")


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
