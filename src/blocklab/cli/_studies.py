"""The CLI's one door to the studies: every verb reaches the registry and the runner through here.

`catalogue()` is cheap (no torch, no study imported): `blocklab list` and shell completion use
it. The other functions import the registry, the runner or a study's module when a verb needs
them, which costs seconds.
"""
from __future__ import annotations

from types import ModuleType


def catalogue() -> ModuleType:
    """The catalogue (CATALOGUE, GROUPS, ALL, members): each study's name, description and group,
    without importing a study."""
    from ..studies import catalogue

    return catalogue


def names() -> list[str]:
    """Every name `blocklab run` takes: the studies, the groups and "all"."""
    cat = catalogue()
    return [e.name for e in cat.CATALOGUE] + [*cat.GROUPS, cat.ALL]


def registry() -> ModuleType:
    """The study registry (get_study, build_config, STUDIES)."""
    from ..lab import registry

    return registry


def runner() -> ModuleType:
    """The runner (run_study, time_table, replot)."""
    from ..lab import runner

    return runner

