"""The attention viewer of the training-dynamics study's report page: how its saved models read an input.

The headline cells (the tour's model) and baseline-seed save a model per seed (study.py); the
page runs the first of them it finds on `Op(a,b,c)` inputs and shows the answer digit, read at
the last position, with its probability.
"""
from __future__ import annotations

from blocklab.report.viewer import Viewer
from blocklab.tasks.operations import VOCAB

EXAMPLES = ("Max(5,3,9)", "Min(5,3,9)", "First(7,2,4)", "Second(7,2,4)", "Last(7,2,4)", "Max(0,0,0)",
            "Min(8,8,1)", "Middle(3,9,5)")


def saves_model(cell: str) -> bool:
    """Whether a cell of the study saves its model (study.run_dynamics_cell)."""
    return cell == "baseline-seed" or cell.startswith("headline-seed-")


def viewers(results: dict) -> list[Viewer]:
    """A Viewer per cell that saves its model, the headline cells first."""
    cells = sorted((c["name"] for c in results["cells"] if saves_model(c["name"])), key=lambda c: c == "baseline-seed")
    return [Viewer(cell, VOCAB, EXAMPLES, answer_note="the answer digit, read at the last position; Middle was never "
                   "trained on") for cell in cells]
