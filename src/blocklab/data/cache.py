"""The cache of fetched datasets: one folder per dataset under cache_root(), complete when its
manifest.json is there and every file it lists has the recorded size (and, when a loader reads
it, the recorded SHA-256)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import BlocklabError
from ..io import atomic_write_text, read_bytes, read_json
from ..schema import AtLeast, MapOf, Obj
from .registry import DATASETS, MANIFEST, cache_root, dataset, fetch_command

# What a manifest holds: an archive's kept files with their sizes and checksums, or (stdlib-code) the
# file list's checksum; fetch.py writes both, `blocklab data list` prints them.
_FILES = MapOf(Obj({"bytes": AtLeast(0), "sha256": str}))
MANIFESTS = {"archive": Obj({"files": _FILES}, optional={"dataset": str, "archive_sha256": str}),
             "stdlib": Obj({"n_files": AtLeast(0), "python": str, "root": str, "sha256": str},
                           optional={"dataset": str})}


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a complete fetch in `folder`, or None when there is none (never fetched, or a fetch
    that stopped before writing it). A manifest that is corrupt, or that lists a file now missing or of
    another size, is a BlocklabError naming the file and the command that fetches it again."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    fix = f"fetch it again with: {fetch_command(folder.name)} --force"
    kind = "stdlib" if folder.name in DATASETS and DATASETS[folder.name].kind == "stdlib" else "archive"
    manifest = read_json(path, "dataset manifest", MANIFESTS[kind], fix=fix)
    for relative, info in manifest.get("files", {}).items():
        file = folder / relative
        size = file.stat().st_size if file.is_file() else None
        if size != info["bytes"]:
            state = "missing" if size is None else f"truncated or changed: {size:,} bytes, not {info['bytes']:,}"
            raise BlocklabError(f"dataset file {file} is {state} ({MANIFEST} says); {fix}")
    return manifest


def verify(folder: Path, manifest: dict) -> None:
    """Compare each file's SHA-256 with the manifest's: a file changed in place is refused before it is read."""
    for relative, info in manifest.get("files", {}).items():
        file = folder / relative
        if hashlib.sha256(read_bytes(file, "dataset file")).hexdigest() != info["sha256"]:
            raise BlocklabError(f"dataset file {file} is corrupt: its SHA-256 is not the one {MANIFEST} records; "
                                f"fetch it again with: {fetch_command(folder.name)} --force")


def require(name: str, root: Path | None = None) -> tuple[Path, dict]:
    """(folder, manifest) of a fetched dataset whose files match their checksums; if it is missing, an error
    that names the command to fetch it."""
    ds = dataset(name)
    folder = (cache_root() if root is None else Path(root)) / ds.name
    manifest = read_manifest(folder)
    if manifest is None:
        raise BlocklabError(f"the dataset {name!r} is not in {folder.parent}; fetch it with: {fetch_command(name)}")
    verify(folder, manifest)
    return folder, manifest


def write_dataset(folder: Path, files: dict[str, bytes], info: dict) -> dict:
    """Write `files` (relative path -> contents) into folder, then manifest.json: `info` plus each
    file's size and SHA-256. The manifest comes last, so a folder with one is complete."""
    listing = {}
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        listing[relative] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {**info, "files": listing} if files else dict(info)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest
