"""paper-spec: the hand arithmetic and the built model agree, the claims are measured, and the
report page shows the arithmetic."""
import dataclasses

import pytest

from blocklab.errors import BlocklabError
from blocklab.lab.report import build_report
from blocklab.lab.runner import run_study
from blocklab.nn import build_model, preset
from blocklab.report import results as res
from blocklab.studies.paper_spec import PaperSpecConfig, encoder_decoder_arithmetic
from report.cards import card_figures

from .isolated import check_claim_figures, check_survives_divergence

SMALL = {"vocab_size": 100, "d_model": 32, "d_ff": 64, "n_heads": 4, "max_len": 40}


@pytest.mark.parametrize("changes", [
    {},
    {"bias": False},
    {"share_embeddings": False, "tgt_vocab_size": 70, "tie_weights": False},
    {"norm": "rms", "norm_position": "pre"},  # pre-norm stacks end with a final norm
    {"activation": "swiglu", "n_kv_heads": 2, "pos_encoding": "learned"},
])
def test_hand_arithmetic_equals_the_built_model(changes):
    cfg = preset("paper-base", **SMALL, **changes)
    model = build_model(cfg)
    unique = {id(p): p.numel() for p in model.parameters()}
    rows = encoder_decoder_arithmetic(cfg)
    assert rows[-1]["component"] == "total"
    assert rows[-1]["total"] == sum(r["total"] for r in rows[:-1]) == sum(unique.values())
    assert all(r["total"] == r["each"] * r["times"] for r in rows[:-1])


def test_paper_base_by_hand():
    rows = {r["component"]: r for r in encoder_decoder_arithmetic(preset("paper-base", vocab_size=37000))}
    assert rows["encoder self-attention (W_Q, W_K, W_V, W_O)"]["each"] == 4 * 512**2 + 4 * 512
    assert rows["decoder feed-forward"]["each"] == 2 * 512 * 2048 + 2048 + 512
    assert rows["total"]["total"] == 63_082_496


def test_ablated_blocks_are_refused_not_miscounted():
    with pytest.raises(BlocklabError, match="mixer='mean'"):
        encoder_decoder_arithmetic(preset("paper-base", **SMALL, mixer="mean"))


def test_study_measures_its_claims_and_its_page_shows_the_arithmetic(tmp_path, monkeypatch):
    monkeypatch.setenv("BLOCKLAB_NO_PROGRESS", "1")
    folder = run_study("paper-spec", seeds=2, out=tmp_path, overrides={"base_vocab": 1000, "classifier_vocab": 500})
    results = res.load(folder / "results.json")
    verdicts = {(m["claim_id"], m["part"]): m["verdict"] for m in results["measurements"]}
    assert {c for c, _ in verdicts} == {"C003-01", "C003-06"}
    # At a 1,000-token vocabulary the base model is ~44.6M: the ~65M claim is then refuted.
    assert verdicts[("C003-01", "paper-base at vocabulary 1,000")] == "refuted"
    assert (folder / "figures" / "paper_spec_parameters.png").exists()
    assert all(r["metrics"]["arithmetic_matches"] for r in results["runs"] if r["cell"] == "paper-base")

    check_claim_figures("paper-spec", results)
    site = build_report(tmp_path).parent
    links = [f"{p.name}#{c}" for p in site.glob("study-*.html") for c in ("C003-01", "C003-06")]
    assert all(link in (site / "ledger.html").read_text() for link in links)  # the ledger links to each card,
    assert all(card_figures(site, link) == ["paper_spec_parameters.png"] for link in links)  # which shows its figure
    page = next(site.glob("study-*.html")).read_text()
    assert "paper-base: the parameter count by hand" in page
    assert "4·d² + 4·d" in page and "<td class=num>44,650,496</td>" in page  # 1,000 · 512 + 44,138,496
    assert "The hand count equals the built model" in page


def test_nothing_here_can_diverge_and_null_counts_still_report(tmp_path):
    """paper-spec trains nothing: it has no learning rate to make huge and its counts are exact integers. Its
    figures, tables and claims must still read a results.json whose floats are null."""
    assert "train" not in {f.name for f in dataclasses.fields(PaperSpecConfig)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        folder = run_study("paper-spec", seeds=1, out=tmp_path, overrides={"base_vocab": 1000, "classifier_vocab": 500})
    check_survives_divergence("paper-spec", res.load(folder / "results.json"), tmp_path / "poisoned")
