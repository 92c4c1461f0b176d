"""The notebooks run as shipped: each is executed top to bottom in a fresh kernel (nbclient).

03_addition_heads trains a quick addition model (81 s of wall time at load ~1 on 2 cores,
2026-12-03), past this suite's budget, so it runs only with BLOCKLAB_TEST_SLOW_NOTEBOOKS=1.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (pip install 'blocklab[dev]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (pip install 'blocklab[dev]')")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
SLOW = {"03_addition_heads.ipynb"}


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"01_start_here.ipynb", "02_training_dynamics.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    if path.name in SLOW and not os.environ.get("BLOCKLAB_TEST_SLOW_NOTEBOOKS"):
        pytest.skip(f"{path.name} takes over a minute; set BLOCKLAB_TEST_SLOW_NOTEBOOKS=1 to run it")
    monkeypatch.setenv("BLOCKLAB_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs are stripped in git"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
