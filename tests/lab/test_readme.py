"""`blocklab readme`: the README's results block rewritten from FOLDER/<study>/results.json, and checked."""
from __future__ import annotations

from blocklab.report import findings

from .tiny_study import TinyStudy, run_cli

README = f"# blocklab\n\nbefore\n\n{findings.BEGIN}\nold\n{findings.END}\n\nafter\n"


def test_readme_writes_each_studys_finding_and_check_catches_a_hand_edit(tiny, capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    code, _, err = run_cli(capsys, "run", "tiny", "--seeds", "1", "--set", "steps=20", "--out",
                           str(tmp_path / "results" / "tiny"))
    assert code == 0, err
    code, out, err = run_cli(capsys, "readme", str(tmp_path / "results"), "--file", str(readme))
    assert code == 0 and out.startswith("rewrote"), err
    text = readme.read_text()
    assert text.startswith("# blocklab\n\nbefore\n\n" + findings.BEGIN) and text.endswith(findings.END + "\n\nafter\n")
    row = next(line for line in text.splitlines() if line.startswith("| `tiny` |"))
    assert row.startswith("| `tiny` | C000-01, C000-08 | 1 | C000-01 provisional, would be ")  # 1 seed of 5 needed
    assert "C000-08 provisional, would be " in row and "(2 parts" in row
    code, out, _ = run_cli(capsys, "readme", str(tmp_path / "results"), "--file", str(readme), "--check")
    assert code == 0 and "up to date" in out
    readme.write_text(text.replace("| 1 |", "| 5 |"))  # a hand edit of the seeds
    code, out, _ = run_cli(capsys, "readme", str(tmp_path / "results"), "--file", str(readme), "--check")
    assert code == 1 and "differs" in out and "| 5 |" in readme.read_text()  # --check writes nothing


def test_a_study_may_write_its_own_finding(tiny, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(TinyStudy, "finding", lambda self, r: f"slope {r['measurements'][0]['mean']:.1f}")
    run_cli(capsys, "run", "tiny", "--seeds", "1", "--set", "steps=20", "--out", str(tmp_path / "results" / "tiny"))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert run_cli(capsys, "readme", str(tmp_path / "results"), "--file", str(readme))[0] == 0
    assert "| `tiny` | C000-01, C000-08 | 1 | slope " in readme.read_text()


def test_no_results_folder_gives_every_study_not_in_results_yet(tiny, capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    code, _, err = run_cli(capsys, "readme", str(tmp_path / "absent"), "--file", str(readme))
    assert code == 0, err
    assert "| `tiny` | C000-01, C000-08 | - | not in results/ yet |" in readme.read_text()


def test_a_readme_without_the_markers_is_refused_in_one_line(tiny, capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# blocklab\n")
    code, out, err = run_cli(capsys, "readme", str(tmp_path), "--file", str(readme))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1 and str(readme) in err
    assert readme.read_text() == "# blocklab\n"
    code, _, err = run_cli(capsys, "readme", str(tmp_path), "--file", str(tmp_path / "nothing.md"))
    assert code == 2 and "nothing.md" in err
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe" + findings.BEGIN.encode())
    code, _, err = run_cli(capsys, "readme", str(tmp_path), "--file", str(tmp_path / "binary.md"))
    assert code == 2 and "binary.md is not UTF-8 text" in err and len(err.strip().splitlines()) == 1
