"""The README keeps its promises: it opens with the two commands, stays under 200 lines, links
only to files in the repository, and its Python example runs exactly as written and prints what
the README says it prints."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLE = re.compile(r"```python\n(.*?)```\n\nIt prints[^\n]*:\n\n```\n(.*?)```", re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
OUTSIDE = re.compile(r"\.\./shared|(?<![\w.~-])/(?:work|root|home|tmp)/")  # a checkout's sibling, this machine's paths


def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    lines = readme().splitlines()
    assert lines[0] == "# blocklab"
    first = next(i for i, line in enumerate(lines) if line.startswith("```"))
    assert lines[first] == "```bash"
    assert lines[first + 1].startswith("make tour ") and lines[first + 2].startswith("make test ")
    assert lines[first + 3] == "```"
    assert all(not line.strip() for line in lines[1:first]), "nothing comes between the title and the commands"


def test_readme_findings_and_counts_are_what_blocklab_readme_writes_from_results():
    """No number in the README's studies table or ledger counts is typed by hand: the block between its markers is
    what `blocklab readme results` writes from results/, so a hand edit (or a results.json added without rerunning
    the command) fails here."""
    from blocklab.lab.readme import update_readme

    assert update_readme(ROOT / "results", README, check=True), "run: blocklab readme results"


def test_readme_is_at_most_200_lines():
    assert len(readme().splitlines()) <= 200


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors: headings lowercased, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_in_the_repository(document: Path):
    text = document.read_text(encoding="utf-8")
    assert not OUTSIDE.search(text), f"{document.name} points outside the repository: {OUTSIDE.search(text)[0]}"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        assert resolved.is_relative_to(ROOT), f"{document.name} links outside the repository: {target}"
        assert resolved.is_file(), f"{document.name} links to {target}, which is not a file in the repository"
        if anchor and resolved.suffix == ".md":
            assert anchor in heading_anchors(resolved), f"{document.name}: no heading for #{anchor} in {path}"


def test_readme_links_every_study_page():
    pages = {p.name for p in (ROOT / "docs" / "studies").glob("*.md")}
    linked = {Path(t.partition("#")[0]).name for t in LINK.findall(readme()) if t.startswith("docs/studies/")}
    assert pages and pages == linked


DOC_EXAMPLES = [(doc, code) for doc in DOCUMENTS[1:]
                for code in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL)]


@pytest.mark.parametrize("document, code", DOC_EXAMPLES, ids=lambda v: v.name if isinstance(v, Path) else "")
def test_python_blocks_in_the_docs_run_and_their_asserts_hold(document: Path, code: str):
    assert "assert " in code, f"a Python block in {document.name} should assert what it shows"
    exec(compile(code, str(document), "exec"), {"__name__": "docs_example"})


def run_example() -> tuple[dict, str, str]:
    """Exec the README's Python block; returns its namespace, what it printed, what the README shows."""
    match = EXAMPLE.search(readme())
    assert match, "the README's ```python block must be followed by 'It prints ...:' and the output"
    code, shown = match.groups()
    namespace: dict = {"__name__": "readme_example"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), namespace)
    return namespace, printed.getvalue(), shown


def test_python_example_runs_as_written_and_prints_what_the_readme_shows():
    ns, printed, shown = run_example()
    model, x, pattern = ns["model"], ns["x"], ns["pattern"]

    # The hook's pattern: (B, H, T, S) softmax rows over the keys, causal, on every test row.
    assert pattern.shape == (x.shape[0], model.cfg.n_heads, x.shape[1], x.shape[1])
    torch.testing.assert_close(pattern.sum(-1), torch.ones(pattern.shape[:-1]))
    assert float(pattern.triu(diagonal=1).abs().max()) == 0.0

    # Trained far above chance (1 in 5), and the hook ablation equals zeroing the head's mask.
    assert ns["result"].final["test_acc"] >= 0.9
    with torch.no_grad():
        clean = model(x)[:, -1]
        attn = model.blocks[0].attn
        attn.head_mask[ns["head"]] = 0.0
        masked = model(x)[:, -1]
        attn.head_mask.fill_(1.0)
    torch.testing.assert_close(ns["logits"].detach(), masked)
    assert (ns["logits"].detach() - clean).abs().max() > 1e-3, "ablating a head left the output unchanged"

    # What it printed is what the README shows: the same words, the same numbers within float noise.
    got, want = printed.strip().splitlines(), shown.strip().splitlines()
    assert [NUMBER.sub("#", line) for line in got] == [NUMBER.sub("#", line) for line in want]
    for line_got, line_want in zip(got, want):
        for a, b in zip(NUMBER.findall(line_got), NUMBER.findall(line_want)):
            decimals = len(b.partition(".")[2])
            tolerance = 5 * 10**-decimals if decimals else 0  # head numbers exactly; 5 in the last digit shown
            assert abs(float(a) - float(b)) <= tolerance, f"printed {line_got!r}, the README shows {line_want!r}"
