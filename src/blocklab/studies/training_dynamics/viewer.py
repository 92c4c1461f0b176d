"""The attention viewer of the training-dynamics study's report page: how its saved models read an input.

The page runs the model of a headline cell on the seed split (the tour's model) or, failing
that, of baseline-seed (the source document's recipe), on `Op(a,b,c)` inputs, and shows the
answer digit, read at the last position, with its probability.
"""
from __future__ import annotations

from blocklab.report.viewer import Viewer
from blocklab.tasks.operations import VOCAB

EXAMPLES = ("Max(5,3,9)", "Min(5,3,9)", "First(7,2,4)", "Second(7,2,4)", "Last(7,2,4)", "Max(0,0,0)",
            "Min(8,8,1)", "Middle(3,9,5)")


def shown(cell: str) -> bool:
    """Whether the viewer may show a cell's model: the source document's model trained on its split."""
    return cell == "baseline-seed" or cell.startswith("headline-seed-")


def viewers(results: dict) -> list[Viewer]:
    """A Viewer per cell it may show, the headline cells first."""
    cells = sorted((c["name"] for c in results["cells"] if shown(c["name"])), key=lambda c: c == "baseline-seed")
    return [Viewer(cell, VOCAB, EXAMPLES, answer_note="the answer digit, read at the last position; Middle was never "
                   "trained on") for cell in cells]
