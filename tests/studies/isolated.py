"""Run one registered study at a tiny size with no other study module imported, so that a
study's tests do not depend on the state of the others."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blocklab.report import results as res
from blocklab.lab import registry
from blocklab.lab import runner


def run_isolated(name: str, out: Path, seeds: int = 1, overrides: dict[str, Any] | None = None) -> tuple[Path, dict]:
    """(run folder, loaded results.json) of `blocklab run NAME --quick` with these --set overrides."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (registry, runner):
            mp.setattr(module, "load_all", lambda: None)
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        folder = runner.run_study(name, seeds=seeds, quick=True, out=out, overrides=overrides or {})
    return folder, res.load(folder / "results.json")
