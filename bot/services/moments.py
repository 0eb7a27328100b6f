"""Reading a time a person typed (`14:05`, `2026-11-22 14:05`, ISO 8601) in their timezone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import UserError
from bot.render import clip

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?:\s*(am|pm))?$", re.IGNORECASE)


def zone(name: str | None) -> ZoneInfo:
    """A timezone by IANA name, UTC when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_moment(
    text: str, *, now: datetime, tz: str | None = None, future: bool = False
) -> datetime:
    """A past moment from `HH:MM` (today, or yesterday if that is still to come) or a date;
    with `future`, `HH:MM` is the next such time (today, or tomorrow if it has passed).

    Times without an offset are read in the person's timezone `tz`.
    """
    cleaned = text.strip()
    local = zone(tz)
    match = _CLOCK.match(cleaned)
    if match:
        hour, minute, meridiem = int(match.group(1)), int(match.group(2)), match.group(3)
        if meridiem:
            if not 1 <= hour <= 12:
                raise UserError(f"`{clip(cleaned, 40)}` is not a time.")
            hour = hour % 12 + (12 if meridiem.lower() == "pm" else 0)
        if hour > 23 or minute > 59:
            raise UserError(f"`{clip(cleaned, 40)}` is not a time.")
        today = now.astimezone(local)
        moment = today.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if future and moment < today - timedelta(minutes=1):
            moment += timedelta(days=1)
        elif not future and moment > today:
            moment -= timedelta(days=1)
        return moment.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"`{clip(cleaned, 40)}` is not a time I can read: write `14:05`, `2:05pm` or "
            "`2026-11-22 14:05` (your timezone), or an ISO time with an offset."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local)
    return moment.astimezone(UTC)
