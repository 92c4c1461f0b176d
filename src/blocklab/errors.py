"""User-facing errors.

Anything a user can get wrong (a config value, a CLI argument, a prompt, a file)
raises a subclass of `BlocklabError`. The CLI turns these into a one-paragraph
message and exit code 2; everything else is a bug and keeps its traceback.
"""
from __future__ import annotations

from typing import Any, Iterable


class BlocklabError(ValueError):
    """An error caused by user input, with a message meant to be read as-is."""


class ConfigError(BlocklabError):
    """A configuration field has a bad value, or two fields do not go together."""


def choice_error(owner: str, field: str, value: Any, choices: Iterable[Any]) -> ConfigError:
    valid = ", ".join(repr(c) for c in choices)
    return ConfigError(f"{owner}.{field}={value!r} is not valid; choose one of: {valid}")
