"""results.json: strict JSON on disk, validation that names the file, and writes that are atomic."""
from __future__ import annotations

import json
import os

import pytest

from blocklab.errors import BlocklabError
from blocklab.io import atomic_write_text
from blocklab.report import results as res
from blocklab.studies.runner import run_study


def test_saved_files_are_strict_json_with_null_for_non_finite(tiny, tmp_path):
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    r = res.load(tmp_path / "results.json")
    r["runs"][0]["metrics"]["loss"] = float("nan")
    r["runs"][0]["metrics"]["curve"] = [1.5, float("inf"), -2e-5]
    res.save(r, tmp_path / "results.json")
    text = (tmp_path / "results.json").read_text()
    strict = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert strict["runs"][0]["metrics"]["loss"] is None
    assert strict["runs"][0]["metrics"]["curve"] == [1.5, None, -2e-5]


@pytest.mark.parametrize("text, words", [
    ("{not json", "corrupt"), ("[1, 2]", "JSON object"), ('{"schema": 1}', "'study' is missing"),
])
def test_bad_files_raise_an_error_naming_the_file(tmp_path, text, words):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(BlocklabError) as e:
        res.load(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_an_unknown_run_status_is_rejected(tiny, tmp_path):
    run_study("tiny", seeds=1, quick=True, out=tmp_path)
    r = res.load(tmp_path / "results.json")
    r["runs"][0]["status"] = "finished"
    with pytest.raises(BlocklabError, match="'finished' is not one of done, diverged, failed"):
        res.save(r, tmp_path / "results.json")


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic_write_text(path, "old")

    def no_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]
