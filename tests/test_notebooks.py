"""The notebooks run as shipped: each is executed top to bottom in a fresh kernel (nbclient), in its own
folder as Jupyter runs it (03 reads the run stored in notebooks/data/), its runs going to a temporary folder.
"""
from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (pip install 'blocklab[dev]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (pip install 'blocklab[dev]')")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"01_start_here.ipynb", "02_training_dynamics.ipynb",
                                           "03_addition_heads.ipynb", "04_attention.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("BLOCKLAB_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs are stripped in git"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    before = sorted(path.parent.rglob("*"))
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert sorted(path.parent.rglob("*")) == before, "a notebook wrote beside itself, not under its runs folder"
