"""Text from Slack made storable once, at the edge.

JSON can carry what no database column takes: a lone UTF-16 surrogate (`"\\ud800"`, half an
emoji) cannot be encoded as UTF-8, and PostgreSQL refuses a NUL in text. Every string that
arrives from Slack — a request's body before any listener sees it, a page of history the
bot reads — goes through `storable`: lone surrogates become U+FFFD (the replacement
character) and C0 control characters other than tab and newline become their visible
Control Pictures symbol (NUL → `␀`, U+2400), carriage returns become newlines. Nothing
that reaches a handler can then fail a database write for its characters, and nothing
depends on the original bytes.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab (\x09) and newline (\x0a); carriage returns are handled apart; DEL.
_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
_NEEDS_WORK = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f]")
REPLACEMENT = "\ufffd"
DELETE_PICTURE = "\u2421"


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return DELETE_PICTURE if code == 0x7F else chr(0x2400 + code)


def storable_text(text: str) -> str:
    """The text with lone surrogates and control characters made storable and visible."""
    if _NEEDS_WORK.search(text) is None:
        return text  # the common case: nothing to do, nothing copied
    text = _SURROGATE.sub(REPLACEMENT, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(_picture, text)


def storable(value: Any) -> Any:
    """A JSON-like value with every string in it (keys too) made storable, in place where
    it is a dict or a list; returns the value."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        for key in list(value):
            item = value[key]
            clean_key = storable_text(key) if isinstance(key, str) else key
            clean = storable(item)
            if clean_key != key:
                del value[key]
            value[clean_key] = clean
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = storable(item)
        return value
    return value
