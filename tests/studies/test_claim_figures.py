"""Every claim a study measures names the figure that shows its evidence (Study.claim_figures), so its card on the
report's study page shows it. Checked without training: against the figure names the study's code writes (every
'.png' name in its source, an f-string's fields as '*'). That the run draws them is checked on every study's
tiny run (isolated.check_claim_figures, called by run_isolated)."""
from __future__ import annotations

import ast
import inspect
import sys
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import pytest

from blocklab.lab import registry

registry.load_all()
STUDIES = dict(registry.STUDIES)  # the real studies (the `tiny` fixture swaps the registry in other tests)


@cache
def written_names(study: type[registry.Study]) -> frozenset[str]:
    """The figure names the study's code can write: its package's when its class is in a study.py, else its
    module's. An f-string 'td_attention_epoch{e}.png' becomes the glob 'td_attention_epoch*.png'."""
    source = Path(inspect.getfile(sys.modules[study.__module__]))
    files = sorted(source.parent.rglob("*.py")) if source.name == "study.py" else [source]
    names = set()
    for node in (n for f in files for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))):
        if isinstance(node, ast.JoinedStr):
            name = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value
        else:
            continue
        if name.endswith(".png"):
            names.add(name)
    return frozenset(names)


def test_written_names_reads_literals_and_f_strings():
    names = written_names(STUDIES["training-dynamics"])
    assert {"td_loss_accuracy.png", "td_attention_epoch*.png", "td_sweep_*.png", "td_ablations.png"} <= names
    assert "45_skip_failures.png" not in names  # another study's figure
    assert written_names(STUDIES["capstone"]) == {"50_transformer_ablation.png", "50_transformer_training.png",
                                                   "50_transformer_architecture.png"}  # its module, not its package


@pytest.mark.parametrize("name", [n for n, s in STUDIES.items() if s.claims])
def test_every_claim_a_study_measures_names_a_figure_it_draws(name):
    study = STUDIES[name]
    assert set(study.claim_figures) == set(study.claims), f"{name}: claims without a figure"
    written = written_names(study)
    for claim_id, patterns in study.claim_figures.items():
        assert patterns and isinstance(patterns, tuple), f"{name}.claim_figures[{claim_id!r}] = {patterns!r}"
        unknown = [p for p in patterns if not any(fnmatchcase(p, w) for w in written)]
        assert not unknown, f"{name}.claim_figures[{claim_id!r}] names figures its code never writes: {unknown}"


@pytest.mark.parametrize("name", [n for n, s in STUDIES.items() if s.figure_captions])
def test_every_caption_is_for_a_figure_the_study_draws(name):
    written = written_names(STUDIES[name])
    unknown = [k for k in STUDIES[name].figure_captions if not any(fnmatchcase(k, w) for w in written)]
    assert not unknown, f"{name}.figure_captions names figures its code never writes: {unknown}"
