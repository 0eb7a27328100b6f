"""How the review draft writes times, durations, severities and unknowns: one way each."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.policy import Policy
from bot.services import incident_lifecycle

TBI = "To be investigated"


def moment(value: datetime | None, *, with_date: bool = True) -> str:
    """`2026-11-26 14:05 UTC`, or `14:05` inside a one-day timeline."""
    if value is None:
        return TBI
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_date else "%H:%M")


def duration(value: timedelta) -> str:
    """`under a minute`, `25 min`, `1 h 05 min`, `8 h`, `2 d 3 h` (rounded down)."""
    minutes = max(int(value.total_seconds()) // 60, 0)
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def between(start: datetime | None, end: datetime | None) -> str:
    """The duration from `start` to `end`, or To be investigated when either is unknown."""
    if start is None or end is None:
        return TBI
    return duration(end - start)


def severity(policy: Policy, key: str | None) -> str:
    """A severity's label (`Sev2`), never its key; an unknown key is shown as written."""
    if not key:
        return TBI
    found = policy.severities.get(key)
    return found.label if found is not None else key


def status(value: str | None) -> str:
    """A lifecycle state as a word in a sentence (`Investigating`)."""
    return (value or "").replace("_", " ").capitalize() or TBI


def known(value: str | None) -> str | None:
    """The text if someone wrote something real, None for blanks and placeholders."""
    cleaned = (value or "").strip()
    if not cleaned or cleaned.lower().rstrip(".") in incident_lifecycle.PLACEHOLDERS:
        return None
    return cleaned


def against_target(actual: timedelta | None, target: timedelta | None) -> str:
    """`1 h 05 min — target 1 h met`, or To be investigated while it has not happened."""
    if actual is None:
        return f"{TBI} (target {duration(target)})" if target is not None else TBI
    took = duration(actual)
    if target is None:
        return took
    return f"{took} — target {duration(target)} {'met' if actual <= target else 'missed'}"
