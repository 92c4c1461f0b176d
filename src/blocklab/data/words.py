"""WordTokenizer: a word-level vocabulary built from a training split only.

Words: the text is lowercased (and ’ read as ') and cut into runs of letters and digits (keeping one
apostrophe suffix, so "it's" and "film's" stay whole) and single punctuation marks;
whitespace separates and is dropped. "A so-so film!" -> ["a", "so", "-", "so", "film", "!"].

Ids: 0 is <pad>, 1 is <unk>; then every word seen at least `min_count` times in the fitting
texts, most frequent first (ties in alphabetical order), at most `max_vocab` ids in all.
Words of other texts that are not in the vocabulary encode as <unk>, so a validation or
test split never adds to it. `encode_batch` pads (or cuts) every text to `max_len` ids.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable

import torch

from ..errors import BlocklabError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def split_words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))  # a typographic apostrophe is an apostrophe


class WordTokenizer:
    def __init__(self, words: list[str]) -> None:
        if words[:2] != [PAD, UNK] or len(set(words)) != len(words):
            raise BlocklabError(f"a WordTokenizer vocabulary starts with {PAD}, {UNK} and has no repeats")
        self.words = list(words)
        self._ids = {w: i for i, w in enumerate(words)}

    @classmethod
    def fit(cls, texts: Iterable[str], min_count: int = 1, max_vocab: int | None = None) -> WordTokenizer:
        if min_count < 1 or (max_vocab is not None and max_vocab < 3):
            raise BlocklabError(f"min_count={min_count} must be >= 1 and max_vocab={max_vocab} None or >= 3")
        counts = Counter(w for t in texts for w in split_words(t))
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        if max_vocab is not None:
            kept = kept[: max_vocab - 2]
        return cls([PAD, UNK, *kept])

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        return [self._ids.get(w, UNK_ID) for w in split_words(text)]

    def encode_batch(self, texts: Iterable[str], max_len: int) -> torch.Tensor:
        """(N, max_len) int64 ids: each text's first max_len words, then <pad>."""
        if max_len < 1:
            raise BlocklabError(f"max_len={max_len} is not valid; it must be a positive integer")
        rows = [self.encode(t)[:max_len] for t in texts]
        out = torch.full((len(rows), max_len), PAD_ID, dtype=torch.long)  # (N, max_len)
        for i, ids in enumerate(rows):
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The words of ids, space-separated, without padding."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise BlocklabError(f"token ids must be in [0, {self.vocab_size}); got {bad[:5]}")
        return " ".join(self.words[i] for i in ids if i != PAD_ID)

    def unknown_rate(self, texts: Iterable[str]) -> float:
        """The fraction of words in `texts` that encode as <unk>."""
        ids = [i for t in texts for i in self.encode(t)]
        return sum(i == UNK_ID for i in ids) / max(len(ids), 1)

    def save(self, path: str | Path) -> None:
        from ..tokenizers import write_tokenizer  # blocklab.tokenizers imports this module

        write_tokenizer(self, path)

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        from ..tokenizers import read_tokenizer  # blocklab.tokenizers imports this module

        return read_tokenizer(path, cls)

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"
