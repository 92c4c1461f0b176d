"""The stdlib-code dataset: the running interpreter's standard library as Python source.

Which files count, how they split and how they are read is tasks/python_code.py's
(non-test *.py files under sysconfig.get_paths()["stdlib"], split by a hash of the path).
load_stdlib_code reads it in place, fetched or not, for every study that
trains on Python source. Fetching copies nothing: it records the root, the Python version, each kept file's
SHA-256 and one checksum over the list, so a run can say exactly which source it read.
That checksum changes with the Python version (registry.STDLIB_SHA256 keeps the ones seen).
"""
from __future__ import annotations

import hashlib
import platform
from pathlib import Path

from ..tasks.python_code import CodeCorpus, load_corpus, stdlib_root
from .registry import STDLIB_SHA256


def stdlib_manifest(root: str | None = None) -> dict:
    """{"root", "python", "n_files", "n_chars", "skipped", "sha256", "matches_recorded"}: the checksum is
    over the lines "split<TAB>path<TAB>sha256 of the file's text", in corpus order; matches_recorded
    compares it with registry.STDLIB_SHA256 for this Python version (None: none recorded)."""
    corpus = load_corpus(root or stdlib_root())
    lines = [f"{split}\t{path}\t{hashlib.sha256(text.encode()).hexdigest()}\n"
             for split in corpus.files for path, text in zip(corpus.files[split], corpus.file_texts[split])]
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    recorded = STDLIB_SHA256.get(platform.python_version())
    return {"root": corpus.root, "python": platform.python_version(), "n_files": len(lines),
            "n_chars": sum(len(t) for t in corpus.texts.values()), "skipped": corpus.skipped, "sha256": digest,
            "matches_recorded": None if recorded is None else digest == recorded}


def load_stdlib_code(caps: dict[str, int] | None = None, root: str | Path | None = None) -> CodeCorpus:
    """The stdlib-code corpus (caps: split -> max characters), read from this interpreter's standard library
    (or `root`); every study that trains on Python source reads it here. It needs no fetch: `blocklab data
    fetch stdlib-code` only records which files it holds (stdlib_manifest)."""
    return load_corpus(root or stdlib_root(), caps)
