"""Tokenizers a saved model can carry, and the one tokenizer.json schema they share.

    {"kind": "char", "unk_id": 0, "chars": "\\n !',-.?ABC..."}   CharTokenizer: id 0 is <unk>, then the characters
    {"kind": "byte"}                                           ByteTokenizer: the 256 byte values of UTF-8
    {"kind": "word", "words": ["<pad>", "<unk>", ...]}         WordTokenizer: id i is words[i]

`kind` names the tokenizer; the other keys are what it needs to be rebuilt. Every tokenizer
has vocab_size, encode(text) -> int64 ids and decode(ids) -> text.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Union

import numpy as np

from .autograd.tokenizer import UNK_ID, CharTokenizer
from .data.words import WordTokenizer
from .errors import BlocklabError
from .io import atomic_write_text, read_json
from .schema import ListOf, Obj, OneOf, ShapeError, check


class ByteTokenizer:
    """One token per UTF-8 byte: a fixed vocabulary of 256 that never meets an unknown character.

    A character outside ASCII takes 2-4 tokens. decode turns byte sequences that are not
    valid UTF-8 (a sampled model can emit them) into U+FFFD, as bytes.decode(errors="replace").
    """

    vocab_size = 256

    def encode(self, text: str, errors: str = "replace") -> np.ndarray:
        """text -> int64 ids (n_bytes,); `errors` is accepted for CharTokenizer's signature: no byte is unknown."""
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)

    def decode(self, ids) -> str:
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise BlocklabError(f"byte token ids must be in [0, 256); got {ids.min()}..{ids.max()}")
        return bytes(ids.astype(np.uint8).tolist()).decode("utf-8", errors="replace")

    def __eq__(self, other) -> bool:
        return isinstance(other, ByteTokenizer)

    def __repr__(self) -> str:
        return "ByteTokenizer(vocab_size=256)"


Tokenizer = Union[CharTokenizer, ByteTokenizer, WordTokenizer]


def tokenizer_to_dict(tok: Tokenizer) -> dict[str, Any]:
    if isinstance(tok, CharTokenizer):
        return {"kind": "char", "unk_id": UNK_ID, "chars": tok.chars}
    if isinstance(tok, ByteTokenizer):
        return {"kind": "byte"}
    if isinstance(tok, WordTokenizer):
        return {"kind": "word", "words": tok.words}
    raise BlocklabError(f"cannot save a tokenizer of type {type(tok).__name__}; "
                        "a saved model carries a CharTokenizer, ByteTokenizer or WordTokenizer")


KINDS = ("char", "byte", "word")
SHAPES = {"char": Obj({"kind": str, "unk_id": OneOf(UNK_ID), "chars": str}, closed=True),
          "byte": Obj({"kind": str}, closed=True),
          "word": Obj({"kind": str, "words": ListOf(str)}, closed=True)}


def tokenizer_from_dict(data: Any) -> Tokenizer:
    """The tokenizer a tokenizer.json object describes; a ShapeError (a wrong field) or a BlocklabError (a
    vocabulary no tokenizer can have), without the file name, if it is not one."""
    check(data, Obj({"kind": OneOf(*KINDS)}))
    check(data, SHAPES[data["kind"]])
    if data["kind"] == "char":
        return CharTokenizer(data["chars"])
    return ByteTokenizer() if data["kind"] == "byte" else WordTokenizer(data["words"])


def read_tokenizer(path: str | Path, expect: type | None = None) -> Tokenizer:
    """The tokenizer in a tokenizer.json file (of class `expect`, when given); every way it can be wrong
    is one line naming the file."""
    data = read_json(path, "tokenizer file")
    try:
        tok = tokenizer_from_dict(data)
    except (ShapeError, BlocklabError) as err:
        raise BlocklabError(f"tokenizer file {path} is not a blocklab tokenizer: {err}") from None
    if expect is not None and not isinstance(tok, expect):
        raise BlocklabError(f"tokenizer file {path} holds a {type(tok).__name__}, not a {expect.__name__}")
    return tok


def tokenizer_json(tok: Tokenizer) -> str:
    return json.dumps(tokenizer_to_dict(tok), ensure_ascii=False)


def write_tokenizer(tok: Tokenizer, path: str | Path) -> None:
    """tokenizer.json for `tok`, written atomically: what read_tokenizer reads back."""
    atomic_write_text(path, tokenizer_json(tok))
