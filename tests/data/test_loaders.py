"""Loaders of the real corpora, on tiny files in their formats that the tests write."""
from __future__ import annotations

import pytest

from blocklab.data import (
    LabelledTexts,
    load_rotten_tomatoes,
    load_shakespeare,
    load_stdlib_code,
    read_imdb,
    read_rotten_tomatoes,
    split_text,
    stdlib_code,
)
from blocklab.data.cache import write_dataset
from blocklab.data.fetch import fetch
from blocklab.data.shakespeare import read_works
from blocklab.data.stdlib_code import stdlib_manifest
from blocklab.errors import BlocklabError

from .helpers import rt_csv_bz2


def test_rotten_tomatoes_drops_plot_rows_and_repeats_and_unescapes(tmp_path):
    write_dataset(tmp_path / "rotten-tomatoes", {"rotten_tomatoes_corpus_full.csv.bz2": rt_csv_bz2()}, {})
    reviews, counts = load_rotten_tomatoes(tmp_path)
    assert counts == {"rows": 12, "plot_rows": 1, "labelled": 11, "repeats_dropped": 1, "snippets": 10}
    assert reviews.texts[:2] == ["A joy from start to finish.", "Dull & lifeless."]
    assert reviews.labels[:2] == [1, 0] and reviews.label_names == ("rotten", "fresh")
    assert "A man walks in." not in reviews.texts
    assert reviews.counts() == {"rotten": 5, "fresh": 5}


def test_rotten_tomatoes_rejects_a_file_of_another_shape(tmp_path):
    (tmp_path / "x.bz2").write_bytes(b"not bz2")
    with pytest.raises(BlocklabError, match="not a bz2-compressed"):
        read_rotten_tomatoes(tmp_path / "x.bz2")
    (tmp_path / "y.bz2").write_bytes(rt_csv_bz2([("meh", "so so")]))
    with pytest.raises(BlocklabError, match=r"unknown categories \['meh'\]"):
        read_rotten_tomatoes(tmp_path / "y.bz2")


def test_a_split_is_disjoint_complete_and_fixed_by_its_seed():
    data = LabelledTexts([f"t{i}" for i in range(101)], [i % 2 for i in range(101)], ("a", "b"))
    parts = data.split({"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    assert [len(p) for p in parts.values()] == [81, 10, 10]
    assert sorted(t for p in parts.values() for t in p.texts) == sorted(data.texts)
    again = data.split({"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    other = data.split({"train": 0.8, "val": 0.1, "test": 0.1}, seed=4)
    assert again["test"].texts == parts["test"].texts != other["test"].texts
    assert all(int(t[1:]) % 2 == y for t, y in zip(parts["val"].texts, parts["val"].labels))
    with pytest.raises(BlocklabError, match="fractions"):
        data.split({"train": 0.9, "test": 0.2}, seed=0)


def test_shakespeare_joins_works_in_name_order_and_splits_90_10(tmp_path):
    files = {"texts/b_gut.txt": b"BEE\n", "texts/a_gut.txt": b"AY", "texts/x.txt": b"?"}
    write_dataset(tmp_path / "shakespeare", files, {})
    assert list(read_works(tmp_path / "shakespeare")) == ["a", "b"]
    text = load_shakespeare(tmp_path)
    assert text == "AY\nBEE\n"
    train, val = split_text("0123456789" * 10)
    assert len(train) == 90 and train + val == "0123456789" * 10
    with pytest.raises(BlocklabError, match="val_fraction"):
        split_text("abc", 1.0)


def _imdb_tree(root):
    files = {"train/pos/10_9.txt": "Great.<br /><br />Loved it", "train/pos/2_8.txt": "Good",
             "train/neg/0_1.txt": "Bad",
             "test/pos/0_10.txt": "Superb", "test/neg/5_2.txt": "Awful", "test/neg/11_3.txt": "Weak",
             "train/unsup/0_0.txt": "unlabelled"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_imdb_reads_the_aclimdb_layout(tmp_path):
    _imdb_tree(tmp_path / "aclImdb")
    data = read_imdb(tmp_path / "aclImdb")
    assert data["train"].texts == ["Bad", "Good", "Great.  Loved it"]  # negatives first, then by numeric id
    assert data["train"].labels == [0, 1, 1]
    assert data["test"].texts == ["Awful", "Weak", "Superb"] and data["test"].labels == [0, 0, 1]
    assert list(read_imdb(tmp_path / "aclImdb", ("test",))) == ["test"]


def test_imdb_errors_name_the_folder_and_the_expected_layout(tmp_path):
    _imdb_tree(tmp_path / "aclImdb")
    (tmp_path / "aclImdb/test/neg/notes.txt").write_text("x")
    with pytest.raises(BlocklabError, match=r"notes.txt is not named <id>_<rating>.txt"):
        read_imdb(tmp_path / "aclImdb")
    with pytest.raises(BlocklabError, match=r"nowhere/train/neg is not a folder"):
        read_imdb(tmp_path / "nowhere")
    with pytest.raises(BlocklabError, match="choose from: train, test"):
        read_imdb(tmp_path / "aclImdb", ("dev",))


def test_stdlib_manifest_covers_the_kept_files_and_changes_with_them(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    for name in ("a.py", "pkg/b.py", "test_a.py", "tests/c.py", "notes.txt"):
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_text(f"# {name}\n")
    first = stdlib_manifest(str(lib))
    assert first["n_files"] == 2 and first["n_chars"] == len("# a.py\n# pkg/b.py\n") and first["matches_recorded"] in (
        None, False)
    (lib / "pkg/b.py").write_text("# changed\n")
    assert stdlib_manifest(str(lib))["sha256"] != first["sha256"]


def test_stdlib_code_is_fetched_as_a_manifest_and_loaded_from_its_root_without_a_fetch(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    for name in ("a.py", "b.py", "c.py"):
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_text(f"x = {name!r}\n")
    monkeypatch.setattr(stdlib_code, "stdlib_root", lambda: lib)
    corpus = load_stdlib_code()  # nothing fetched: read in place, as every study reads it
    assert corpus.root == str(lib) and sum(len(f) for f in corpus.files.values()) == 3
    folder = fetch("stdlib-code", tmp_path / "cache")
    assert [p.name for p in folder.iterdir()] == ["manifest.json"]  # nothing is copied
    assert load_stdlib_code({"train": 1}).texts["train"] == "x"  # a cap cuts the text at that many characters
