"""Level 1 of seed 004: memorize twelve short character sequences, the seed's "test patterns".

The patterns, four kinds (the seed's test set, as TinyTorch's Level 1 writes them):
  shifting  ABCDE FGHIJ KLMNO PQRST UVWXY   (alphabet runs: FGHI -> GHIJ)
  numbers   12345 67890                     (digit runs)
  repeating AAAAA BBBBB CCCCC               (BBBB -> BBBB)
  mixed     A1B2C X9Y8Z                     (letters and digits alternating)

Encoding: id 0 is PAD, ids 1..36 are "0".."9" then "A".."Z" (the characters the patterns
use, sorted), so the vocabulary has 37 ids. Each pattern is padded with PAD to 8 ids;
the model reads x = ids[:7] and is trained on next-token targets y = ids[1:], PAD targets
included, as the seed trains.

Test ("FGHI -> GHIJ"): a pattern is right when the argmax predictions at positions 0..3
equal its characters 1..4 (teacher forcing, the seed's check). Three patterns start with
"A", and position 0 sees only that "A", so no causal model can get all three right: the
seed's test has a ceiling of 10 of 12. `determined` marks the predictions the visible
prefix determines; scored on those only, 12 of 12 is reachable.
"""
from __future__ import annotations

import numpy as np

PATTERNS = ("ABCDE", "FGHIJ", "KLMNO", "PQRST", "UVWXY", "12345", "67890",
            "AAAAA", "BBBBB", "CCCCC", "A1B2C", "X9Y8Z")
KINDS = ("shifting",) * 5 + ("numbers",) * 2 + ("repeating",) * 3 + ("mixed",) * 2
CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PAD = 0
VOCAB_SIZE = len(CHARS) + 1
LENGTH = 8  # the model's context: each pattern padded to 8 ids
TESTED = 4  # predictions checked per pattern: characters 2..5 from prefixes of 1..4


def encode(text: str) -> np.ndarray:
    """Characters -> ids, padded with PAD to LENGTH."""
    ids = [CHARS.index(c) + 1 for c in text]
    return np.array(ids + [PAD] * (LENGTH - len(ids)), dtype=np.int64)


def decode(ids) -> str:
    return "".join(CHARS[i - 1] if i != PAD else "_" for i in ids)


def level1_data() -> tuple[np.ndarray, np.ndarray]:
    """x (12, 7) inputs and y (12, 7) next-token targets of the twelve patterns."""
    ids = np.stack([encode(p) for p in PATTERNS])  # (12, 8)
    return ids[:, :-1], ids[:, 1:]


def determined() -> np.ndarray:
    """(12, TESTED) bool: True where every pattern with the same prefix has the same next character."""
    out = np.ones((len(PATTERNS), TESTED), dtype=bool)
    for i, p in enumerate(PATTERNS):
        for t in range(TESTED):
            nexts = {q[t + 1] for q in PATTERNS if q[: t + 1] == p[: t + 1]}
            out[i, t] = len(nexts) == 1
    return out


def score(pred: np.ndarray) -> dict:
    """Score argmax predictions (12, >=TESTED): the seed's test and the determined-only one.

    Returns per-pattern booleans, the counts of right patterns, and the first mistakes as
    "FGHI -> GHIK (truth GHIJ)".
    """
    _, y = level1_data()
    hits = pred[:, :TESTED] == y[:, :TESTED]  # (12, TESTED)
    right = hits.all(axis=1)
    right_determined = (hits | ~determined()).all(axis=1)
    mistakes = [f"{p[:TESTED]} -> {decode(pred[i, :TESTED])} (truth {p[1:]})"
                for i, p in enumerate(PATTERNS) if not right[i]]
    return {"right": right.tolist(), "right_determined": right_determined.tolist(),
            "n_right": int(right.sum()), "n_right_determined": int(right_determined.sum()), "mistakes": mistakes}


def ceiling() -> int:
    """Most patterns any causal model can get right on the seed's test: 10.

    Only first characters leave the next one open here (three patterns start with "A");
    of each such group one pattern at most can be right.
    """
    open_first = {p[0] for p, d in zip(PATTERNS, determined()[:, 0]) if not d}
    return sum(p[0] not in open_first for p in PATTERNS) + len(open_first)
