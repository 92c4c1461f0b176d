"""Option values more than one verb reads: `--set KEY=VALUE` pairs and JSON config files."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import BlocklabError


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, object]:
    """`key=value` strings -> dict; values parse as JSON when they can (numbers, true, null), else strings."""
    out: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise BlocklabError(f"--set {pair!r} is not of the form key=value")
        key, raw = pair.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def read_json(path: str) -> dict:
    """The JSON object of config fields in the file at `path`; a BlocklabError naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BlocklabError(f"config file {path!r} does not exist") from None
    except json.JSONDecodeError as e:
        raise BlocklabError(f"config file {path!r} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BlocklabError(f"config file {path!r} must hold a JSON object of config fields")
    return data
