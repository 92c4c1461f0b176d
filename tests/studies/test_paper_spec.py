"""paper-spec: the hand arithmetic and the built model agree, and the claims are measured."""
from blocklab.nn import build_model, parameter_summary, preset
from blocklab.studies.paper_spec import paper_base_arithmetic
from blocklab.studies.runner import run_study
from blocklab.report import results as res


def test_hand_arithmetic_equals_the_built_paper_base():
    vocab = 1000  # small vocabulary: same arithmetic, cheaper model
    built = parameter_summary(build_model(preset("paper-base", vocab_size=vocab)))["total"]
    assert paper_base_arithmetic(vocab)["total"] == built


def test_study_measures_its_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("BLOCKLAB_NO_PROGRESS", "1")
    folder = run_study("paper-spec", seeds=2, out=tmp_path, overrides={"base_vocab": 1000, "classifier_vocab": 500})
    results = res.load(folder / "results.json")
    verdicts = {(m["claim_id"], m["part"]): m["verdict"] for m in results["measurements"]}
    assert {c for c, _ in verdicts} == {"C003-01", "C003-06"}
    # At a 1,000-token vocabulary the base model is ~44.6M: the ~65M claim is then refuted.
    assert verdicts[("C003-01", "paper-base at vocabulary 1,000")] == "refuted"
    assert (folder / "figures" / "paper_spec_parameters.png").exists()
