"""Tiny stand-ins for the real archives and corpora, built by the tests themselves (no network)."""
from __future__ import annotations

import bz2
import csv
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

# (category, text): fresh and rotten snippets, a plot row, an HTML entity and a repeated snippet
RT_ROWS = [("fresh", "A joy from start to finish."), ("rotten", "Dull &amp; lifeless."), ("plot", "A man walks in."),
           ("fresh", "A joy from start to finish."), ("fresh", "Warm, funny and wise."), ("rotten", "It drags badly."),
           ("fresh", "The best film of the year!"), ("rotten", "A mess."), ("fresh", "It's a delight."),
           ("rotten", "Tedious and long."), ("fresh", "Great fun."), ("rotten", "Not funny at all.")]


def rt_csv_bz2(rows=RT_ROWS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for category, text in rows:
        writer.writerow([category, text, "a_movie", "False"])
    return bz2.compress(out.getvalue().encode("utf-8"))


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


class FakeDownload:
    """A Downloader that copies a prepared archive into pip's folder, and counts its calls."""

    def __init__(self, archive: Path, saved_as: str) -> None:
        self.archive, self.saved_as, self.calls = archive, saved_as, 0

    def __call__(self, ds, dest: Path) -> Path:
        self.calls += 1
        return Path(shutil.copyfile(self.archive, dest / self.saved_as))
