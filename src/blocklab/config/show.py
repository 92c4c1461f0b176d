"""What `blocklab show STUDY` prints: every field with its type, default and --quick value."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from ..io import jsonable
from .check import expected
from .overrides import _field_hint, build, field_keys


@dataclass(frozen=True)
class FieldRow:
    """One line of `blocklab show`: a field, what it accepts, its default and its --quick value."""

    key: str  # dotted for a nested config's fields: "train.lr"
    type: str  # what the field accepts, in words (see `expected`)
    default: Any
    quick: Any


def describe(config_cls: type, quick: Mapping[str, Any] | None = None) -> list[FieldRow]:
    """Every field of `config_cls` (nested ones dotted) with its type, default and value under `quick`."""
    default, fast = build(config_cls), build(config_cls, quick=quick)
    return [FieldRow(key, expected(_field_hint(config_cls, key)), _value(default, key), _value(fast, key))
            for key in field_keys(config_cls)]


def render(rows: list[FieldRow]) -> str:
    """`describe`'s rows as an aligned table; the --quick column is blank where it keeps the default."""
    table = [("field", "type", "default", "--quick")]
    table += [(r.key, r.type, format_value(r.default), "" if r.quick == r.default else format_value(r.quick))
              for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[3]]).rstrip() for row in table)


def format_value(value: Any) -> str:
    """A value as it would be typed after `--set key=`: text as is, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(jsonable(value))


def _value(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg
