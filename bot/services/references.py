"""Incident references `INC-YYYYMMDD-NNN`, unique across processes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

PREFIX = "INC"

# One statement that creates or bumps the day's counter and returns the new value; it is
# atomic on both engines, so two processes declaring in the same second get distinct numbers.
_NEXT = text(
    "INSERT INTO daily_sequence (day, last) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = daily_sequence.last + 1 "
    "RETURNING last"
)


def next_reference(*, session: Session, now: datetime) -> str:
    """Hand out the next reference for `now`'s UTC day."""
    day = now.strftime("%Y%m%d")
    number = session.execute(_NEXT, {"day": day}).scalar_one()
    return format_reference(day, int(number))


def format_reference(day: str, number: int) -> str:
    """Format a reference; numbers past 999 simply grow a digit."""
    return f"{PREFIX}-{day}-{number:03d}"
