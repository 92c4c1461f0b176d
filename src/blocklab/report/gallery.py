"""A study's figures on its page: copied beside the site, captioned, each opening full size when clicked.

A caption says what is plotted (the study's own caption for the file, else its name in words),
which of the run's seeds it shows (their mean, the lowest seed alone, each seed on its own) and,
where it has them, what the shaded bands and error bars are. A figure the run lists but that is
missing from disk says how to redraw it.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from fnmatch import fnmatchcase
from html import escape
from pathlib import Path
from typing import Literal, Mapping, Sequence

from ..config import Config
from ..errors import ConfigError

BANDS = "bands and error bars: 95% intervals of the mean, within the metric's range"


@dataclass(frozen=True)
class Caption(Config):
    """What a figure plots and which of the run's seeds it draws (Study.figure_captions; a plain string is a
    Caption with the default seeds="mean").

    seeds: "mean", the mean over the run's seeds; "first", the run's lowest seed alone (a model's internals:
    heads and neurons do not line up across seeds); "each", every seed drawn on its own (with bands: beside
    means of them, such as bars over the runs pooled); "mixed", some panels one seed (the text says which), the
    rest the mean; "none", nothing that depends on the seed (a diagram, parameter counts). bands: whether the
    figure draws 95% bands or error bars around means; None (the default) is yes for "mean" and "mixed", no
    otherwise, and "first" and "none" draw no mean to have them.
    """

    text: str
    seeds: Literal["mean", "first", "each", "mixed", "none"] = "mean"
    bands: bool | None = None

    def validate(self) -> None:
        super().validate()
        if self.bands is None:
            object.__setattr__(self, "bands", self.seeds in ("mean", "mixed"))  # frozen: set once, when built
        if self.bands and self.seeds in ("first", "none"):
            raise ConfigError(f"Caption.bands=True is not valid with seeds={self.seeds!r}; bands are drawn only "
                              "around a mean: set bands=False, or seeds='mean', 'each' or 'mixed'")

    def suffix(self, seeds: Sequence[int]) -> str:
        """What the figure shows of the run's seeds, as a sentence ('' for a figure that does not depend on them)."""
        n = f"{len(seeds)} seed{'s' * (len(seeds) != 1)}"
        first = min(seeds, default=0)
        mean = f"mean over {n}" + (f"; {BANDS}" if self.bands else "")
        return {"mean": f"M{mean[1:]}.", "first": f"Seed {first} of the run's {n}; no band.",
                "each": f"Each of the run's {n} drawn on its own" + (f"; {BANDS}." if self.bands else "; no band."),
                "mixed": f"Panels of one seed: seed {first} of the run's {n}; the others: {mean}.",
                "none": ""}[self.seeds]


def humanize(name: str) -> str:
    """'47_attention_scaling.png' -> 'Attention scaling': the file name in words, without its study number."""
    words = re.sub(r"^\d+_", "", name.removesuffix(".png")).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def written(name: str, captions: Mapping[str, str | Caption]) -> Caption | None:
    """The study's caption for figure `name` (its key, or a glob that matches it, as claim_figures allows)."""
    found = next((c for pattern, c in captions.items() if fnmatchcase(name, pattern)), None)
    return Caption(found) if isinstance(found, str) else found


def caption(name: str, seeds: Sequence[int], captions: Mapping[str, str | Caption]) -> str:
    """What the figure shows (plain text): the study's caption for it, else the humanized name with the mean's
    suffix; then which of the run's `seeds` it draws and, where it has them, what its bands are."""
    found = written(name, captions) or Caption(humanize(name))
    return " ".join(filter(None, (f"{found.text.rstrip('.')}.", found.suffix(seeds))))


def matching(patterns: Sequence[str], drawn: Sequence[str]) -> list[str]:
    """The drawn figures each pattern names (a file name, or a glob such as 'td_attention_epoch*.png' for figures
    whose names depend on the config), in the patterns' order, each once."""
    return list(dict.fromkeys(name for pattern in patterns for name in drawn if fnmatchcase(name, pattern)))


def copy_figures(page: str, fig_dir: Path, names: list[str], out: Path) -> dict[str, str | None]:
    """Copy each figure to out/figures/<page>/ and return {name: its path relative to the site, or None if missing}."""
    sub = Path("figures") / page.removesuffix(".html")
    where: dict[str, str | None] = {}
    for name in names:
        if not (fig_dir / name).is_file():
            where[name] = None
            continue
        (out / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fig_dir / name, out / sub / name)
        where[name] = (sub / name).as_posix()
    return where


def figure(name: str, src: str | None, text: str, run_dir: Path) -> str:
    """One captioned figure (HTML); the image links to itself at full size."""
    if src is None:
        return (f"<figure class=missing><p>{escape(name)} is missing: run "
                f"<code>blocklab plot {escape(str(run_dir))}</code></p></figure>")
    return (f"<figure><a href='{escape(src)}' title='open full size'><img src='{escape(src)}' alt='{escape(text)}'></a>"
            f"<figcaption>{escape(text)}</figcaption></figure>")


def grid(figures: list[str]) -> str:
    """Figures (HTML) in a grid of equal tiles."""
    return f"<div class=gallery>{''.join(figures)}</div>" if figures else ""
