"""The HTML report: every page, figure, ledger row and link is there, built from results.json alone."""
from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from blocklab.report.claims import load_claims
from blocklab.lab.report import build_report
from blocklab.lab.runner import run_study
from lab.tiny_study import FIGURES, register_tiny, run_cli


class Page(HTMLParser):
    """Collects links, images, ledger rows (first cell of each row) and text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.links, self.images, self.rows, self.text = [], [], [], []
        self._cell = None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "tr":
            self._cell = []
        elif tag == "td" and self._cell == []:
            self._cell = ["open"]

    def handle_endtag(self, tag):
        if tag == "td" and self._cell and self._cell[0] == "open":
            self.rows.append("".join(self._cell[1:]).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell and self._cell[0] == "open":
            self._cell.append(data)


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """A quick run and a full one of the test study, under one runs/ folder, made once."""
    root = tmp_path_factory.mktemp("report") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        register_tiny(mp, draw=True)
        run_study("tiny", seeds=3, quick=True, out=root / "tiny-quick")
        run_study("tiny", seeds=2, out=root / "tiny")
    return root


@pytest.fixture
def runs(shared_runs, tmp_path):
    """A private copy, so that a test may delete or rebuild things."""
    return Path(shutil.copytree(shared_runs, tmp_path / "runs"))


def test_every_link_and_image_resolves(runs):
    site = build_report(runs).parent
    pages = sorted(site.glob("*.html"))
    assert [p.name for p in pages] == ["index.html", "study-tiny-quick.html", "study-tiny.html"]
    for page in pages:
        parsed = Page(page)
        assert parsed.links, page
        for target in parsed.links + parsed.images:
            assert (site / target).is_file(), f"{page.name} points to {target}, which does not exist"


def test_each_study_page_shows_all_its_figures(runs):
    site = build_report(runs).parent
    for name in ("study-tiny.html", "study-tiny-quick.html"):
        images = Page(site / name).images
        assert sorted(Path(i).name for i in images) == sorted(FIGURES)
        assert all((site / i).stat().st_size > 1000 for i in images)


def test_the_ledger_lists_every_claim_with_its_verdict_and_the_rule(runs):
    index = Page(build_report(runs))
    text = " ".join(index.text)
    assert index.rows[:2] == ["tiny", "tiny"]  # the studies table: the quick run and the full one
    assert index.rows[2:] == [c.id for c in load_claims()]
    assert "Verdict rule." in text and "bootstrap of 10,000 resamples" in text and "Holm-Bonferroni" in text
    assert "not yet measured" in text and "confirmed if the 95% CI lies within ±0.2 of 3" in text
    # the full-fidelity run outranks the quick one, and its command is what the ledger shows
    assert "blocklab run tiny --seeds 2 --out" in text and "also measured in 1 other run(s)" in text


def test_a_study_page_holds_config_command_versions_and_seed_statuses(runs):
    text = " ".join(Page(build_report(runs).parent / "study-tiny.html").text)
    for words in ("steps", "200", "blocklab run tiny --seeds 2", "torch", "commit", "diverged", "seed 1",
                  "C000-08 (lr 4)", "lr=0.5"):
        assert words in text, words


def test_a_missing_figure_is_reported_with_the_fix(runs):
    (runs / "tiny" / "figures" / FIGURES[0]).unlink()
    site = build_report(runs, out=runs.parent / "elsewhere").parent
    assert site == runs.parent / "elsewhere"
    page = Page(site / "study-tiny.html")
    assert len(page.images) == 2 and f"blocklab plot {runs / 'tiny'}" in " ".join(page.text)


def test_report_verb_prints_the_index_path(runs, capsys):
    code, out, err = run_cli(capsys, "report", str(runs))
    assert code == 0, err
    assert out.strip() == str(runs / "report" / "index.html") and Path(out.strip()).is_file()


def test_a_verdict_from_a_quick_run_says_so(runs):
    """With only the --quick run left, the ledger warns that its verdicts come from reduced fidelity;
    with the full run present, the full run's verdicts carry no warning."""
    warning = "from a --quick run"
    assert warning not in "".join(Page(build_report(runs)).text)
    shutil.rmtree(runs / "tiny")
    assert warning in "".join(Page(build_report(runs)).text)


def test_cells_table_has_a_row_per_cell_or_per_metric_whichever_is_fewer(runs):
    import json

    path = runs / "tiny" / "results.json"
    r = json.loads(path.read_text())
    cells = [c["name"] for c in r["cells"]]

    def rows_with(metrics: list[str]) -> list[str]:
        for c in cells:
            r["aggregates"][c] = {m: {"mean": 1.0, "ci_low": 0.0, "ci_high": 2.0, "n": 2} for m in metrics}
        path.write_text(json.dumps(r))
        return Page(build_report(runs).parent / "study-tiny.html").rows

    rows = rows_with(["loss"])
    assert all(rows.count(c) == 2 for c in cells) and "loss" not in rows  # the runs-by-seed table has a row per cell too
    many = [f"head_{i}" for i in range(len(cells) + 1)]
    rows = rows_with(many)
    assert {"params", *many} <= set(rows) and all(rows.count(c) == 1 for c in cells)
