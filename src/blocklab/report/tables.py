"""Tables a study adds to its report page, computed from its results like its figures.

A study returns them from `Study.tables(results)`; the report escapes every cell, so a
study writes plain text and numbers, never HTML. Numbers are right-aligned and printed
with thousands separators when whole (63,082,496), else to 4 significant digits.
"""
from __future__ import annotations

from dataclasses import dataclass

Cell = str | int | float | None


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    note: str = ""  # a paragraph under the table: how to read it, where the numbers come from

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.headers):
                raise ValueError(f"table {self.title!r}: row {i} has {len(row)} cells for {len(self.headers)} "
                                 f"headers ({self.headers})")


def format_cell(value: Cell) -> str:
    """Plain text for one cell: whole numbers with separators, others to 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"
