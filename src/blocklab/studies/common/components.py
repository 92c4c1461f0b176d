"""The Transformer's components switched off one config change at a time, and the accuracy
each removal costs (the capstone, study 50, and its ablation matrix, study 51)."""
from __future__ import annotations

from blocklab.nn import ClassifierConfig
from blocklab.report.results import per_seed

# Component -> the config change that removes it.
COMPONENTS = {
    "skip": {"residual": False},
    "norm": {"norm": "none"},
    "attention": {"mixer": "mean"},
    "PE": {"pos_encoding": "none"},
}


def without(cfg: ClassifierConfig, removed: tuple[str, ...]) -> ClassifierConfig:
    """`cfg` with the named components of COMPONENTS switched off."""
    changes: dict = {}
    for name in removed:
        changes.update(COMPONENTS[name])
    return cfg.replace(**changes)


def drops(results: dict, base: str, cell: str, metric: str = "test_acc") -> dict[int, float]:
    """seed -> metric(base) - metric(cell), over the seeds both finished."""
    a, b = per_seed(results, base, metric, numeric=True), per_seed(results, cell, metric, numeric=True)
    return {s: a[s] - b[s] for s in sorted(a.keys() & b.keys())}
