"""The cache of fetched datasets: one folder per dataset under cache_root(), complete when its
manifest.json is there and every file it lists has the recorded size."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import BlocklabError
from ..io import atomic_write_text
from .registry import MANIFEST, cache_root, dataset, fetch_command


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a complete fetch in `folder`, or None (absent, unreadable, or files missing)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    for relative, info in manifest.get("files", {}).items():
        path = folder / relative
        if not path.is_file() or path.stat().st_size != info["bytes"]:
            return None
    return manifest


def require(name: str, root: Path | None = None) -> tuple[Path, dict]:
    """(folder, manifest) of a fetched dataset; if it is missing, an error that names the command to fetch it."""
    ds = dataset(name)
    folder = (cache_root() if root is None else Path(root)) / ds.name
    manifest = read_manifest(folder)
    if manifest is None:
        raise BlocklabError(f"the dataset {name!r} is not in {folder.parent}; fetch it with: {fetch_command(name)}")
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
