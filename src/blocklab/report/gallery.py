"""A study's figures on its page: copied beside the site, captioned, each opening full size when clicked.

A caption says what is plotted (the study's own caption for the file, else its name in words),
over how many seeds, and what the shaded bands and error bars are. A figure the run lists but
that is missing from disk says how to redraw it.
"""
from __future__ import annotations

import re
import shutil
from fnmatch import fnmatchcase
from html import escape
from pathlib import Path
from typing import Mapping, Sequence

BANDS = "bands and error bars: 95% intervals of the mean, within the metric's range"


def humanize(name: str) -> str:
    """'47_attention_scaling.png' -> 'Attention scaling': the file name in words, without its study number."""
    words = re.sub(r"^\d+_", "", name.removesuffix(".png")).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def caption(name: str, seeds: int, captions: Mapping[str, str]) -> str:
    """What the figure shows (plain text): the study's caption for its name (or for a glob that matches it, as
    claim_figures allows) or the humanized name, the seeds, the bands."""
    what = next((text for pattern, text in captions.items() if fnmatchcase(name, pattern)), None) or humanize(name)
    return f"{what.rstrip('.')}. Mean over {seeds} seed{'s' * (seeds != 1)}; {BANDS}."


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
