"""Digits typed by a user (a prompt, a config value): only the ASCII digits 0-9 count.

str.isdigit() is also True for '²' and '٥', and int() reads '٥' as 5 and '1_0' as 10, so text
checked that way is either misread in silence or crashes later in int(). Every check of user
text for digits goes through `is_number` instead.
"""
from __future__ import annotations


def is_number(text: str) -> bool:
    """True when `text` is one or more ASCII digits 0-9 and nothing else (no sign, space or underscore)."""
    return text.isascii() and text.isdigit()
