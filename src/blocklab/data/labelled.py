"""LabelledTexts: texts with class labels, and the seeded split every loader's data goes through."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BlocklabError


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: list[int]  # indices into label_names
    label_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise BlocklabError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        bad = sorted({y for y in self.labels if not 0 <= y < len(self.label_names)})
        if bad:
            raise BlocklabError(f"labels {bad} are not indices of {self.label_names}")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> LabelledTexts:
        return LabelledTexts([self.texts[i] for i in index], [self.labels[i] for i in index], self.label_names)

    def counts(self) -> dict[str, int]:
        return {name: self.labels.count(i) for i, name in enumerate(self.label_names)}

    def split(self, fractions: dict[str, float], seed: int) -> dict[str, LabelledTexts]:
        """Disjoint parts of sizes round(fraction * n), the last part taking the rest, drawn by one
        permutation from numpy's generator seeded with `seed`: the same seed, the same split."""
        if not fractions or any(f <= 0 for f in fractions.values()) or sum(fractions.values()) > 1 + 1e-9:
            raise BlocklabError(f"split fractions {fractions} must be positive and sum to at most 1")
        order = np.random.default_rng(seed).permutation(len(self))
        whole = abs(sum(fractions.values()) - 1) < 1e-9
        parts, start = {}, 0
        for i, (name, fraction) in enumerate(fractions.items()):
            stop = len(self) if whole and i == len(fractions) - 1 else start + round(fraction * len(self))
            parts[name] = self.subset(order[start:stop].tolist())
            start = stop
        return parts
