"""The HTML report: every page, figure, anchor and link is there, built from results.json alone."""
from __future__ import annotations

import json
import math
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from blocklab.lab.report import build_report
from blocklab.report import evidence, markup
from blocklab.report.claims import load_claims
from lab.tiny_study import FIGURES, register_tiny, run_cli
from report.cards import card_figures


class Page(HTMLParser):
    """Collects links, images, element ids, the ledger's rows (id -> text) and text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.links, self.images, self.ids, self.text = [], [], [], []
        self.rows: dict[str, list[str]] = {}
        self.row_attrs: dict[str, dict] = {}
        self._row: str | None = None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a":
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "tr" and "data-verdict" in attrs:
            self._row = attrs["id"]
            self.rows[self._row] = []
            self.row_attrs[self._row] = attrs

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None:
            self.rows[self._row].append(data)

    def all_text(self) -> str:
        return " ".join(self.text)


@pytest.fixture
def runs(shared_runs, tmp_path):
    """A private copy of the quick and full runs of the test study, so that a test may delete or rebuild things."""
    return Path(shutil.copytree(shared_runs, tmp_path / "runs"))


def test_every_link_image_and_anchor_resolves(runs):
    site = build_report(runs).parent
    pages = sorted(p.name for p in site.glob("*.html"))
    assert pages == ["index.html", "ledger.html", "study-tiny-quick.html", "study-tiny.html"]
    parsed = {name: Page(site / name) for name in pages}
    for name, page in parsed.items():
        assert page.links, name
        for target in page.links + page.images:
            file, _, anchor = target.partition("#")
            assert (site / file).is_file(), f"{name} points to {target}, which does not exist"
            if anchor and not anchor.startswith("verdict="):
                assert anchor in parsed[file].ids, f"{name} points to {target}, which has no such id"
    assert (site / "site.css").is_file() and (site / "ledger.js").is_file()


def test_the_ledger_has_a_row_per_claim_linked_to_its_card_and_back(runs):
    site = build_report(runs).parent
    ledger, card_page = Page(site / "ledger.html"), Page(site / "study-tiny.html")
    assert list(ledger.rows) == [c.id for c in load_claims()]
    # the full-fidelity run outranks the quick one: the ledger links to its cards, which link back
    assert "study-tiny.html#C000-01" in ledger.links and "study-tiny.html#C000-08" in ledger.links
    assert {"C000-01", "C000-08"} <= set(card_page.ids)
    assert "ledger.html#C000-01" in card_page.links and "ledger.html#C000-08" in card_page.links
    text = ledger.all_text()
    assert "also measured in 1 other run(s)" in text and "Holm-Bonferroni" in text
    assert "within ±0.2 of 3" in text  # the region of C000-01, in the folded evidence
    assert ledger.row_attrs["C000-01"]["data-document"] == "000"


def test_an_unmeasured_claim_is_one_line_with_the_command_that_measures_it(runs):
    ledger = Page(build_report(runs).parent / "ledger.html")
    row = " ".join(ledger.rows["C000-03"])  # measured by the normalization study, which has not run here
    assert "not yet measured" in row and "blocklab run normalization" in row
    assert ledger.row_attrs["C000-03"]["class"] == "unmeasured"


def test_a_study_page_is_an_article_with_a_card_per_claim(runs, tiny):
    site = build_report(runs).parent
    page = Page(site / "study-tiny.html")
    text = page.all_text()
    for words in ("fit the slope of a line", "A real but tiny study", "A plain 10-layer network's gradients vanish",
                  "blocklab run tiny --seeds 2", "diverges: the error explodes", "lr=0.5", "steps", "torch",
                  "seed 1", "diverged"):
        assert words in text, words
    # C000-08's card shows the figure the study names for it; the others follow in the gallery
    card = text[text.index("C000-08"):]
    assert card.index("Tiny bars") < card.index("More figures")
    assert "Squared error per step, one line per learning rate. Mean over 2 seeds; bands" in text
    for src in page.images:  # each figure opens full size
        assert src in page.links


def test_each_claims_card_shows_its_figures_by_name_or_glob(runs, tiny, monkeypatch):
    monkeypatch.setattr(tiny, "claim_figures", {"C000-01": ("tiny_c*.png", "tiny_heatmap.png", "tiny_none*.png"),
                                                "C000-08": ("tiny_bars.png", "tiny_curves.png")})
    monkeypatch.setattr(tiny, "figure_captions", {"tiny_b*.png": "Final error per learning rate"})  # a glob, too
    site = build_report(runs).parent
    ledger = Page(site / "ledger.html")
    assert card_figures(site, "study-tiny.html#C000-01") == ["tiny_curves.png", "tiny_heatmap.png"]
    assert "<figcaption>Final error per learning rate. Mean over 2 seeds;" in (site / "study-tiny.html").read_text()
    assert card_figures(site, "study-tiny.html#C000-08") == ["tiny_bars.png", "tiny_curves.png"]
    assert {"study-tiny.html#C000-01", "study-tiny.html#C000-08"} <= set(ledger.links)
    assert "More figures" not in Page(site / "study-tiny.html").all_text()  # every figure is on a card


def test_each_study_page_shows_all_its_figures(runs):
    site = build_report(runs).parent
    for name in ("study-tiny.html", "study-tiny-quick.html"):
        images = Page(site / name).images
        assert sorted(Path(i).name for i in images) == sorted(FIGURES)
        assert all((site / i).stat().st_size > 1000 for i in images)


def test_a_clone_without_figures_gets_them_drawn_from_results_json(runs, monkeypatch):
    """The repository's results/ holds results.json alone: the report draws every figure the run lists, from
    results.json, and leaves results.json as it was (git tracks it)."""
    register_tiny(monkeypatch, draw=True)
    stored = (runs / "tiny" / "results.json").read_bytes()
    shutil.rmtree(runs / "tiny" / "figures")
    site = build_report(runs).parent
    images = Page(site / "study-tiny.html").images
    assert sorted(Path(i).name for i in images) == sorted(FIGURES)
    assert all((site / i).stat().st_size > 1000 for i in images)
    assert sorted(p.name for p in (runs / "tiny" / "figures").iterdir()) == sorted(FIGURES)
    assert (runs / "tiny" / "results.json").read_bytes() == stored


def test_a_missing_figure_of_an_unregistered_study_is_reported_with_the_fix(runs):
    (runs / "tiny" / "figures" / FIGURES[0]).unlink()
    site = build_report(runs, out=runs.parent / "elsewhere").parent
    assert site == runs.parent / "elsewhere"
    page = Page(site / "study-tiny.html")
    assert len(page.images) == 2 and f"blocklab plot {runs / 'tiny'}" in page.all_text()


def test_report_verb_prints_the_index_path(runs, capsys):
    code, out, err = run_cli(capsys, "report", str(runs))
    assert code == 0, err
    assert out.strip() == str(runs / "report" / "index.html") and Path(out.strip()).is_file()


def test_a_verdict_from_a_quick_run_says_so(runs):
    """With only the --quick run left, the ledger marks its verdicts provisional and says why."""
    warning = "from a --quick run"
    assert warning not in Page(build_report(runs).parent / "ledger.html").all_text()
    shutil.rmtree(runs / "tiny")
    ledger = Page(build_report(runs).parent / "ledger.html")
    assert warning in ledger.all_text() and ledger.row_attrs["C000-01"]["data-verdict"] == "provisional"
    assert ledger.row_attrs["C000-01"]["data-would-be"] in ("confirmed", "refuted", "inconclusive")


def test_the_cells_table_drops_cells_and_metrics_without_a_finite_value(runs):
    path = runs / "tiny" / "results.json"
    r = json.loads(path.read_text())
    cells = [c["name"] for c in r["cells"]]
    empty = {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    for c in cells:
        r["aggregates"][c] = {"loss": {"mean": 1.0, "ci_low": 0.5, "ci_high": 2.0, "n": 2}, "nothing": empty}
    r["aggregates"][cells[0]] = {"loss": empty, "nothing": empty}
    path.write_text(json.dumps(r))
    text = Page(build_report(runs).parent / "study-tiny.html").all_text()
    assert "1 cell(s) with no finite value left out" in text and "nothing" not in text
    assert "(2 cells, 1 metrics)" in text


@pytest.mark.parametrize("x, unit, text", [
    (99.85, "%", "99.85%"), (18906112.0, "parameters", "18,906,112 parameters"), (12.345, "s", "12.35 s"),
    (0.0124, "loss", "0.0124 loss"), (2500.0, "", "2,500"), (0.00012, "", "0.00012"), (None, "%", "—"),
    (math.nan, "", "—"),
])
def test_numbers_are_written_by_their_unit(x, unit, text):
    assert markup.number(x, unit) == text


def test_a_quantity_every_seed_agrees_on_has_no_interval():
    html = markup.interval({"mean": 1891e4, "ci_low": 1891e4, "ci_high": 1891e4, "n": 3}, "parameters")
    assert html.startswith("18,910,000 parameters") and "[" not in html and "all seeds equal" in html
    spread = markup.interval({"mean": 20.1, "ci_low": 18.59, "ci_high": 21.61, "n": 3}, "%")
    assert spread.startswith("20.1% [18.59, 21.61]") and "n=3" in spread


def test_nested_params_read_as_dotted_keys():
    assert markup.params_text({"model": {"attn_scale": False}, "depth": 10, "ops": ["max", "min"]}) == \
        "model.attn_scale=False, depth=10, ops=max, min"
    assert markup.params_text({"model": {}}) == "—"


def test_a_note_shared_by_many_parts_is_written_once():
    parts = [{"note": "same scale note"}] * 10 + [{"note": "another"}, {"note": ""}]
    assert evidence.notes(parts).count("<li>") == 2
