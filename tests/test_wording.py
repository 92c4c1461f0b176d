"""User-facing text says "source document", never "seed", for the five documents blocklab tests.

WHY: "seed" in a figure, table, note or CLI line reads as a random seed ("mean over seeds", "seed 0"), so
"the seed's rows" beside "dots: seeds" misleads. Identifiers (SEED_TABLE, seed_value, the `seed` split of
training-dynamics) may keep the word; the strings a user reads may not. This scans the string literals of
src/blocklab (docstrings aside, except the first paragraph of a study module's, which the report shows as
the study's question) and the package's markdown for phrasings that only the source-document sense uses.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import blocklab

SRC = Path(blocklab.__file__).parent  # the tree on PYTHONPATH, so the scan checks the code the tests import

WRONG_SENSE = re.compile(
    r"\bthe seed(?:'s\b|:| (?:says|gives|names|reports|trains)\b)"  # "the seed's test", "the seed: 3.81 -> 1.55"
    r"|(?:^|\()seed: "               # "seed: norm > PE", "(seed: 39.5% vs 100%)"; "per seed: ..." is a random seed
    r"|(?:^|\()seed's (?:value|rows|recipe|model)\b"  # a legend's "seed's value"; "each seed's value": random
    r"|\bseeds' claims\b"
    r"|(?<![\w-])seed[ -]split\b"    # the source document's split in prose; `gen-seed-split` is a cell name
    r"|\bseed[ -]00\d\b",            # "seed 001", "seed-004"
    re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: code documentation, not text a user reads."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def user_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal a user can read: f-string parts included, docstrings not, but the
    first paragraph of a study's module docstring (the report's question for a study without `question`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    out = [(n.lineno, n.value) for n in ast.walk(tree)
           if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]
    doc = ast.get_docstring(tree)
    if doc and any(isinstance(n, ast.ClassDef) and _registered(n) for n in tree.body):
        out.append((1, doc.split("\n\n")[0]))
    return out


def _registered(cls: ast.ClassDef) -> bool:
    """Whether the class is a study (`@register`), whose module docstring the report reads."""
    return any(isinstance(d, ast.Name) and d.id == "register" for d in cls.decorator_list)


def wrong_sense(root: Path) -> list[str]:
    hits = [f"{p.relative_to(root)}:{line}: {m.group(0)!r} in {text[:80]!r}"
            for p in sorted(root.rglob("*.py")) for line, text in user_strings(p)
            for m in [WRONG_SENSE.search(text)] if m]
    hits += [f"{p.relative_to(root)}:{i}: {m.group(0)!r}" for p in sorted(root.rglob("*.md"))
             for i, text in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             for m in [WRONG_SENSE.search(text)] if m]
    return hits


def test_the_pattern_tells_the_two_senses_apart():
    """WHAT: the regex flags the source-document phrasings and passes the random-seed ones. WHY: a pattern
    that matches nothing (or everything) would let the scan below pass (or fail) for no reason."""
    wrong = ["seed's value", "seed-split baseline", "first==last: the seed's rows", "Importance (seed: norm > PE)",
             "seed: ~85%+", "the seed: 3.81 -> 1.55", "x baseline (the seed's criterion)",
             "the seed gives examples, not rates", "Accuracy; solid: seed split",
             "Seed split (test inputs mostly seen)", "seed 001: epoch-by-epoch", "# The seeds' claims"]
    right = ["each seed's first evaluation", "seed 0", "mean over seeds", "per seed: drop without skip",
             "Mean over seeds and each seed's value", "a diverged seed's values", "(seed 0; red ops)",
             "Panels of one seed: seed 1 of the run's 2", "model and data seed = seed + 1000 j",
             "share their TrainConfig (but for the seed)", "source document: 3.81 -> 1.55",
             "'seed': the source document's split", "gen-seed-split"]
    assert [t for t in wrong if not WRONG_SENSE.search(t)] == []
    assert [t for t in right if WRONG_SENSE.search(t)] == []


def test_no_user_facing_string_calls_a_source_document_a_seed():
    """WHAT: no string literal or packaged markdown in src/blocklab uses "seed" for a source document."""
    hits = wrong_sense(SRC)
    assert hits == [], "say 'source document' for these:\n" + "\n".join(hits)
