"""Durations as the policy and commands write them: `90s`, `15m`, `4h`, `1d`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_DURATION_PART = re.compile(r"(\d+)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    """Parse `90s`, `15m`, `4h`, `1d` or combinations such as `1h30m` into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a duration such as 90s, 15m, 4h or 1d")
    if isinstance(value, int):
        raise ValueError(f"{value!r} has no unit: write it like 90s, 15m, 4h or 1d")
    text = value.strip().lower()
    if text.startswith("-"):
        raise ValueError(f"{value!r} is negative: durations must be positive")
    pos, total = 0, 0
    for match in _DURATION_PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{value!r} is not a duration: write it like 90s, 15m, 4h or 1d")
    if total <= 0:
        raise ValueError(f"{value!r} is zero: durations must be positive")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """Format a timedelta compactly (`1h30m`, `45m`, `2d`)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]

__all__ = ["Duration", "format_duration", "parse_duration"]
