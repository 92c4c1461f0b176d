"""The checker: a config's fields against their resolved annotations, with errors in words.

`Config` is the base of every blocklab config (models, trainer, studies); `fit` checks one
value against one annotation and is what both a config being built (strict) and a value
typed on the command line (loose) go through. `expected` says in words what an
annotation accepts; errors and `blocklab show` use it.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from typing import Annotated, Any, Literal, Mapping, TypeVar

from ..errors import ConfigError
from ..io import jsonable
from .ranges import Range, _NonEmpty

T = TypeVar("T")


class Config:
    """Base of a dataclass config: every field is checked against its annotation when built.

    Subclasses add cross-field rules by overriding `validate` and calling super().validate()
    first. A list given for a tuple field (as JSON gives) is stored as a tuple.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_fields(self)

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
        """Build from a mapping (a JSON object); unknown keys are rejected with the nearest valid one.

        A nested config may be given as a mapping of its fields.
        """
        _check_keys(cls, values)
        hints = field_hints(cls)
        return cls(**{k: _from_json(hints[k], v) for k, v in values.items()})

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (validated; unknown keys rejected)."""
        _check_keys(type(self), changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values: nested configs as dicts, tuples as lists."""
        return jsonable(dataclasses.asdict(self))


def _check_keys(cls: type, keys: Any) -> None:
    names = list(field_hints(cls))
    for key in keys:
        if key not in names:
            raise ConfigError(f"{cls.__name__} has no field {key!r}; {nearest(key, names)}"
                              f"valid fields: {', '.join(names)}")


def _from_json(hint: Any, value: Any) -> Any:
    """A mapping given for a field that holds a Config, built into that Config."""
    inner = nested_class(hint)
    return inner.from_dict(value) if isinstance(value, Mapping) and inner and issubclass(inner, Config) else value


def nested_class(hint: Any) -> type | None:
    """The dataclass a field holds (a nested config), if it holds one."""
    base, _ = unwrap(hint)
    return base if isinstance(base, type) and dataclasses.is_dataclass(base) else None


def check_fields(cfg: Any) -> None:
    """Check every field of dataclass instance `cfg` against its annotation; lists become tuples where declared."""
    owner = type(cfg).__name__
    for name, hint in field_hints(type(cfg)).items():
        value = getattr(cfg, name)
        checked = fit(value, hint, f"{owner}.{name}")
        if checked is not value:
            setattr(cfg, name, checked)


def fit(value: Any, hint: Any, where: str, loose: bool = False) -> Any:
    """`value` as field type `hint` wants it, or a ConfigError naming `where`, the value and what is expected.

    Strict (`loose=False`, a config being built) accepts ints for floats and lists for tuples.
    Loose (values typed on a command line) also turns ints into floats, integral floats into
    ints and numbers into strings (`--set tag=2`).
    """
    try:
        return _fit(value, hint, loose)
    except _Mismatch:
        raise ConfigError(f"{where}={short_repr(value)} is not valid; it must be {expected(hint)}") from None


def short_repr(value: Any, limit: int = 60) -> str:
    """repr(value), cut in the middle when long (an integer of 400 digits stays one readable line)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-10:]} ({len(text)} characters)"


class _Mismatch(Exception):
    """A value that does not fit an annotation (`fit` turns it into a ConfigError with the whole field's words)."""


def _fit(value: Any, hint: Any, loose: bool) -> Any:
    base, marks = unwrap(hint)
    value = _fit_base(value, base, loose)
    for mark in marks:
        if isinstance(mark, Range) and not mark.holds(value):
            raise _Mismatch
        if isinstance(mark, _NonEmpty) and len(value) == 0:
            raise _Mismatch
    return value


def _fit_base(value: Any, hint: Any, loose: bool) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _fit(value, arg, loose)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:  # True == 1 but is no choice of 1
            return value
        raise _Mismatch
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length: tuple[float, float]
            if len(value) != len(args):
                raise _Mismatch
            items = [_fit(v, a, loose) for v, a in zip(value, args)]
        else:
            items = [_fit(v, args[0] if args else Any, loose) for v in value]
        return tuple(items) if origin is tuple else items
    if hint is bool:
        if not isinstance(value, bool):
            raise _Mismatch
        return value
    if hint is int:
        if loose and isinstance(value, float) and math.isfinite(value) and value == int(value):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Mismatch
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Mismatch
        try:
            number = float(value)  # an int past 1.8e308 overflows
        except OverflowError:
            raise _Mismatch from None
        if not math.isfinite(number):
            raise _Mismatch
        return number if loose else value
    if hint is str:
        if loose and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # --set tag=2 reads as a number
        if not isinstance(value, str):
            raise _Mismatch
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, hint):
            raise _Mismatch
        return value
    return value  # Any, dicts and other annotations are taken as given


def unwrap(hint: Any) -> tuple[Any, list]:
    """The type inside an Annotated hint, and its markers (Range, NonEmpty)."""
    if typing.get_origin(hint) is Annotated:
        return hint.__origin__, list(hint.__metadata__)
    return hint, []


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of the dataclass fields of `cls`, in field order (markers kept)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def nearest(key: str, valid: list[str]) -> str:
    """'did you mean 'x'? ' for the valid key closest to `key` (whole or last dotted part), else ''."""
    def score(candidate: str) -> float:
        whole = difflib.SequenceMatcher(None, key, candidate).ratio()
        last = difflib.SequenceMatcher(None, key.rpartition(".")[2], candidate.rpartition(".")[2]).ratio()
        return max(whole, last)

    best = max(valid, key=score, default=None)
    return f"did you mean {best!r}? " if best is not None and score(best) >= 0.6 else ""


# ---------------------------------------------------------------------- annotations in words
def expected(hint: Any) -> str:
    """What a field accepts, in words: 'a positive integer', 'a list of numbers in [0, 1)', 'one of: 'a', 'b''."""
    return _words(hint, plural=False)


_NOUNS = {int: ("an integer", "integers"), float: ("a finite number", "finite numbers"),
          bool: ("True or False", "booleans"), str: ("a string", "strings")}
_INT_WORDS = {Range(gt=0): "positive integer", Range(ge=0): "non-negative integer"}


def _words(hint: Any, plural: bool) -> str:
    base, marks = unwrap(hint)
    text = _base_words(base, plural)
    for mark in marks:
        if isinstance(mark, Range):
            special = _INT_WORDS.get(mark) if base is int else None
            if special:
                text = f"{special}s" if plural else f"a {special}"
            else:
                bounded = mark.text().startswith("in ")  # "in [0, 1)" already says finite
                text = f"{text.replace('finite ', '') if bounded else text} {mark.text()}"
        elif isinstance(mark, _NonEmpty):
            text = text.replace("a list", "a non-empty list", 1)
    return text


def _base_words(hint: Any, plural: bool) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join([_words(a, plural) for a in args if a is not type(None)] +
                           (["None"] if type(None) in args else []))
    if origin is Literal:
        return f"{'values from' if plural else 'one of'}: {', '.join(map(repr, args))}"
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            kinds = {_words(a, True) for a in args}
            each = ", ".join(_words(a, False) for a in args)
            items = f"{len(args)} {kinds.pop()}" if len(kinds) == 1 else f"({each})"
            return f"{'lists' if plural else 'a list'} of {items}"
        return f"{'lists' if plural else 'a list'} of {_words(args[0], True) if args else 'values'}"
    if hint in _NOUNS:
        return _NOUNS[hint][plural]
    if isinstance(hint, type):
        return f"{hint.__name__}s" if plural else f"a {hint.__name__}"
    return str(hint).replace("typing.", "")
