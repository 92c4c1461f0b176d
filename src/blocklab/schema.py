"""What a JSON file must hold: nested shapes, checked so that an error names the JSON path that is wrong.

    RUN = Obj({"cell": str, "seed": NonNegative, "status": OneOf("done", "diverged", "failed"), "metrics": dict},
              optional={"seconds": float, "message": str})
    check({"runs": [{"cell": "a", "seed": 0, "status": "done", "metrics": 5}]}, Obj({"runs": ListOf(RUN)}))
    # ShapeError: runs[0].metrics is 5; it must be an object

A shape is a JSON type written as the Python one (str, bool, int, float: any number, dict: any
object, list: any array; an int is never a bool), or one of the classes below. Every file blocklab
reads (results.json, a model's config.json, tokenizer.json, a dataset's manifest.json) is read
with io.read_json and its shape, so each way a file can be wrong is one line naming the file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

Shape = Any  # a JSON type (str, bool, int, float, dict, list) or a _Shape instance


class ShapeError(Exception):
    """A value that does not have its shape: where (a JSON path), what it is, and what it must be."""

    def __init__(self, where: str, value: Any, expected: str, missing: str | None = None) -> None:
        self.where, self.value, self.expected, self.missing = where, value, expected, missing
        super().__init__(self.text())

    def text(self) -> str:
        if self.missing is not None:
            return f"{f'{self.where}: ' if self.where else ''}the field {self.missing!r} is missing"
        return f"{self.where or 'the top level'} is {_short(self.value)}; it must be {self.expected}"


def check(value: Any, shape: Shape, where: str = "") -> None:
    """Raise ShapeError at the first part of `value` (parsed JSON) that does not have `shape`."""
    if isinstance(shape, _Shape):
        shape.check(value, where)
    elif not _is(value, shape):
        raise ShapeError(where, value, words(shape))


def words(shape: Shape) -> str:
    """What a shape accepts, in words: 'an object', 'a list of strings'."""
    return shape.words() if isinstance(shape, _Shape) else _NOUNS[shape][0]


_NOUNS = {str: ("a string", "strings"), bool: ("true or false", "booleans"), int: ("an integer", "integers"),
          float: ("a number", "numbers"), dict: ("an object", "objects"), list: ("a list", "lists")}


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _plural(shape: Shape) -> str:
    return shape.plural() if isinstance(shape, _Shape) else _NOUNS[shape][1]


class _Shape:
    def check(self, value: Any, where: str) -> None:
        raise NotImplementedError

    def words(self) -> str:
        raise NotImplementedError

    def plural(self) -> str:
        return f"values that are {self.words()}"


@dataclass(frozen=True)
class Nullable(_Shape):
    """`shape` or null (JSON's null: a diverged run's NaN, an optional setting)."""

    shape: Shape

    def check(self, value: Any, where: str) -> None:
        if value is not None:
            try:
                check(value, self.shape, where)
            except ShapeError as e:
                if e.where != where:  # wrong deeper down: that part's error says more
                    raise
                raise ShapeError(where, value, self.words()) from None

    def words(self) -> str:
        return f"{words(self.shape)} or null"

    def plural(self) -> str:
        return f"{_plural(self.shape)} or nulls"


@dataclass(frozen=True)
class AtLeast(_Shape):
    """An integer >= `low` (a seed, a count)."""

    low: int

    def check(self, value: Any, where: str) -> None:
        if not _is(value, int) or value < self.low:
            raise ShapeError(where, value, self.words())

    def words(self) -> str:
        return f"an integer >= {self.low}"

    def plural(self) -> str:
        return f"integers >= {self.low}"


@dataclass(frozen=True)
class OneOf(_Shape):
    """One of a few given values."""

    choices: tuple[Any, ...]

    def __init__(self, *choices: Any) -> None:
        object.__setattr__(self, "choices", choices)

    def check(self, value: Any, where: str) -> None:
        if not any(value == c and type(value) is type(c) for c in self.choices):
            raise ShapeError(where, value, self.words())

    def words(self) -> str:
        return f"one of: {', '.join(map(repr, self.choices))}"


@dataclass(frozen=True)
class ListOf(_Shape):
    """A list whose every item has `item`'s shape (at least `min_len` of them)."""

    item: Shape
    min_len: int = 0

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, list) or len(value) < self.min_len:
            raise ShapeError(where, value, self.words())
        for i, v in enumerate(value):
            check(v, self.item, f"{where}[{i}]")

    def words(self) -> str:
        return f"a {'non-empty ' if self.min_len else ''}list of {_plural(self.item)}"

    def plural(self) -> str:
        return f"{'non-empty ' if self.min_len else ''}lists of {_plural(self.item)}"


@dataclass(frozen=True)
class MapOf(_Shape):
    """An object whose every value has `value`'s shape (keys are any strings)."""

    value: Shape

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ShapeError(where, value, self.words())
        for k, v in value.items():
            check(v, self.value, _key(where, k))

    def words(self) -> str:
        return f"an object of {_plural(self.value)}"

    def plural(self) -> str:
        return f"objects of {_plural(self.value)}"


@dataclass(frozen=True)
class Obj(_Shape):
    """An object with the `required` fields and perhaps the `optional` ones, each of its shape;
    other fields are allowed unless `closed` (then they are an error that lists the valid ones)."""

    required: Mapping[str, Shape]
    optional: Mapping[str, Shape] = field(default_factory=dict)
    closed: bool = False

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ShapeError(where, value, self.words())
        for key in self.required:
            if key not in value:
                raise ShapeError(where, value, self.words(), missing=key)
        for key, v in value.items():
            shape = self.required.get(key, self.optional.get(key, _UNKNOWN))
            if shape is not _UNKNOWN:
                check(v, shape, _key(where, key))
            elif self.closed:
                valid = ", ".join([*self.required, *self.optional])
                raise ShapeError(_key(where, key), v, f"absent: there is no such field (valid fields: {valid})")

    def words(self) -> str:
        return f"an object{self._fields()}"

    def plural(self) -> str:
        return f"objects{self._fields()}"

    def _fields(self) -> str:  # a long list of fields would hide the point
        return f" with the fields {', '.join(self.required)}" if 0 < len(self.required) <= 4 else ""


_UNKNOWN = object()
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key(where: str, key: str) -> str:
    """The JSON path of `key` below `where`: runs[0].metrics, aggregates["lr=0.1"]."""
    if _PLAIN_KEY.match(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{key!r}]"


def _short(value: Any, limit: int = 40) -> str:
    """The wrong value as it would read in the file, cut when long."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 5]}...{text[-3:]}"
