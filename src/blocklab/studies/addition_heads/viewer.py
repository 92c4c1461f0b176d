"""The attention viewer of the addition-heads report page: how the saved adders read a sum, and
what ablating each head did.

Each encoder-decoder head shows, beside its pattern, the greedy exact match (on the held-out
problems) that the study lost when it ablated that head alone in the same model, by zeroing its
output (head_mask, as the page's ablation box does) and by replacing it with its mean
(ablation.py); the page's box runs the zeroing on the typed sum.
"""
from __future__ import annotations

from blocklab.report.results import per_seed
from blocklab.report.viewer import Effects, Viewer
from blocklab.tasks.addition import ANSWER_LEN

from .ablation import module_path

VOCAB = tuple(str(d) for d in range(10)) + ("+", "=")  # tasks/addition.py's ids: digits, PLUS 10, EQUALS 11
EXAMPLES = ("123+456", "999+1", "555+445", "45+555", "5+995", "499+501", "0+0")
NOTES = {"natural": "the sum's four digits, thousands first", "reversed": "the sum's four digits, units first"}
EFFECTS = {"zero": "points lost when zeroed", "mean": "points lost when set to its mean"}  # of greedy exact match


def viewers(results: dict) -> list[Viewer]:
    """A Viewer per cell, the encoder-decoder the claims are measured on first."""
    first = f"seq2seq-{results['config']['claims_order']}"
    cells = sorted((c["params"] for c in results["cells"]), key=lambda p: f"{p['model']}-{p['order']}" != first)
    return [Viewer(f"{p['model']}-{p['order']}", VOCAB, EXAMPLES, answer_tokens=ANSWER_LEN, digits=3, length=7,
                   suffix=("=",) if p["model"] == "gpt" else (), bos="=" if p["model"] == "seq2seq" else None,
                   answer_note=NOTES[p["order"]], effects=effects(results, f"{p['model']}-{p['order']}"))
            for p in cells]


def effects(results: dict, cell: str) -> dict[int, Effects]:
    """{seed: {label: {module path: exact match lost per head}}} for the seeds whose heads were ablated;
    None where a score is missing (a diverged run's)."""
    out: dict[int, Effects] = {}
    for seed, m in per_seed(results, cell).items():
        if "heads" not in m:
            continue
        h, out[seed] = m["heads"], {}
        for method, label in EFFECTS.items():
            by_module: dict[str, list[float | None]] = {}
            for name in h["names"]:
                base, ablated = h["baseline"]["em"], h[method][name]["em"]
                drop = None if base is None or ablated is None else round(base - ablated, 4)
                by_module.setdefault(module_path(name.rsplit("_head_", 1)[0]), []).append(drop)
            out[seed][label] = by_module
    return out
