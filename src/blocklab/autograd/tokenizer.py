"""CharTokenizer: one token per character, for the character-level demos.

Encoding: id 0 is reserved for unknown characters (`<unk>`); ids 1..n are the distinct
characters of the text the tokenizer was fitted on, in sorted (code point) order, so the
same text always gives the same vocabulary.

Unknown characters (not seen when fitting) follow the `errors` policy of `encode`:
  "replace" (default)  encode as UNK_ID, decoded as U+FFFD (the Unicode replacement character),
                       one character for one token, so positions still line up;
  "strict"             raise a BlocklabError naming the character and its position.
decode(encode(text)) == text for every text made of known characters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BlocklabError

UNK_ID = 0
UNK_CHAR = "\ufffd"


class CharTokenizer:
    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars):
            raise BlocklabError("CharTokenizer characters must be distinct")
        self.chars = chars
        self._ids = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1  # + <unk>

    def encode(self, text: str, errors: str = "replace") -> np.ndarray:
        """text -> int64 ids (len(text),)."""
        if errors not in ("replace", "strict"):
            raise BlocklabError(f"errors={errors!r} is not valid; choose one of: 'replace', 'strict'")
        ids = np.fromiter((self._ids.get(c, UNK_ID) for c in text), dtype=np.int64, count=len(text))
        if errors == "strict" and (ids == UNK_ID).any():
            pos = int(np.argmax(ids == UNK_ID))
            raise BlocklabError(f"character {text[pos]!r} at position {pos} is not in the vocabulary")
        return ids

    def decode(self, ids) -> str:
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise BlocklabError(f"token ids must be in [0, {self.vocab_size}); got {ids.min()}..{ids.max()}")
        table = UNK_CHAR + self.chars
        return "".join(table[i] for i in ids)

    def save(self, path: str | Path) -> None:
        from ..tokenizers import write_tokenizer  # blocklab.tokenizers imports this module

        write_tokenizer(self, path)

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        from ..tokenizers import read_tokenizer

        return read_tokenizer(path, cls)

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and other.chars == self.chars

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"

