"""Values from outside (`--set key=value`, a study's --quick overrides) turned into a config.

`parse_assignments` reads the command line's `key=value` strings; `build` applies them
to a config class, dotted keys reaching nested configs (`--set train.lr=3e-3`).
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Iterable, Mapping, TypeVar

from ..errors import ConfigError
from .check import field_hints, fit, nearest, nested_class, short_repr

T = TypeVar("T")


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """`key=value` strings -> {key: value}: JSON where it parses (numbers, true, null, lists), else text.

    Infinity, NaN and numbers past the float range (1e999) are refused here: no field takes them.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not of the form key=value")
        out[key.strip()] = _parse_value(key.strip(), raw)
    return out


class _NotFinite(Exception):
    """Raised inside json.loads; not a ValueError, which json would take for a syntax error."""


def _finite(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _NotFinite
    return x


def _refuse(text: str) -> float:
    raise _NotFinite


def _parse_value(key: str, raw: str) -> Any:
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_refuse)
    except _NotFinite:
        raise ConfigError(f"--set {key}={raw}: Infinity, NaN and numbers beyond 1.8e308 are not valid; "
                          "config values are finite numbers") from None
    except json.JSONDecodeError:
        return raw  # plain text: --set norm=layer
    except ValueError:  # an integer of more than 4,300 digits
        raise ConfigError(f"--set {key}={raw[:20]}...: a number of {len(raw)} digits is not valid") from None


def build(config_cls: type[T], overrides: Mapping[str, Any] | None = None, *,
          quick: Mapping[str, Any] | None = None, owner: str | None = None) -> T:
    """`config_cls` from its defaults, then the `quick` overrides, then `overrides` ({key: value} each).

    A dotted key reaches into a nested config (`train.lr`) and keeps the other values of that
    field's default; a mapping given for a nested config sets several of its fields. Values
    are converted loosely to the field's type (see `fit`). An error starts with `owner`
    (default: the class name) and the source ("quick" or "--set"), then names the key, the
    value and what is expected, or, for an unknown key, the nearest and all valid keys.
    """
    owner = owner or config_cls.__name__
    changes: dict[str, Any] = {}
    for source, layer in (("quick", quick or {}), ("--set", overrides or {})):
        for key, value in _flatten(config_cls, layer).items():
            hint = _field_hint(config_cls, key)
            if hint is None:
                valid = field_keys(config_cls)
                raise ConfigError(f"{owner}: {source} {key}={short_repr(value)} names no config field; "
                                  f"{nearest(key, valid)}valid keys: {', '.join(valid)}")
            for inner in [k for k in changes if k.startswith(f"{key}.")]:
                del changes[inner]  # a whole nested config replaces earlier changes to its fields
            changes[key] = fit(value, hint, f"{owner}: {source} {key}", loose=True)
    return _construct(config_cls, changes)


def field_keys(config_cls: type) -> list[str]:
    """Every field's key, in order; a nested config's fields as `name.field`."""
    out = []
    for name, hint in field_hints(config_cls).items():
        inner = nested_class(hint)
        out += [f"{name}.{k}" for k in field_keys(inner)] if inner else [name]
    return out


def _field_hint(config_cls: type, key: str) -> Any:
    """The annotation of dotted `key` in `config_cls`, or None when there is no such field."""
    head, _, rest = key.partition(".")
    hint = field_hints(config_cls).get(head)
    if hint is None or not rest:
        return hint
    inner = nested_class(hint)
    return _field_hint(inner, rest) if inner else None


def _flatten(config_cls: type, layer: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping given for a nested config becomes dotted keys: {"train": {"lr": 1}} -> {"train.lr": 1}."""
    out: dict[str, Any] = {}
    for key, value in layer.items():
        inner = nested_class(_field_hint(config_cls, key)) if isinstance(value, Mapping) else None
        out.update({f"{key}.{k}": v for k, v in _flatten(inner, value).items()} if inner else {key: value})
    return out


def _construct(config_cls: type[T], changes: Mapping[str, Any], base: T | None = None) -> T:
    """`base` (or the class defaults) with `changes` applied; dotted keys rebuild the nested config they name."""
    direct = {k: v for k, v in changes.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "." in key:
            head, rest = key.split(".", 1)
            nested.setdefault(head, {})[rest] = value
    for head, inner in nested.items():
        current = direct.get(head, getattr(base, head) if base is not None else _default(config_cls, head))
        direct[head] = _construct(type(current), inner, current)
    return dataclasses.replace(base, **direct) if base is not None else config_cls(**direct)


def _default(config_cls: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(config_cls) if f.name == name)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ConfigError(f"{config_cls.__name__}.{name} has no default, so its fields cannot be set one by one")
