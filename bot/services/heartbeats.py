"""Which stretches of time some bot process was alive to receive Slack's events."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, update
from sqlmodel import Session, col, select

from bot.models import ProcessHeartbeat

# Slack retries an unacknowledged event for a few minutes; a shorter outage loses nothing.
GRACE = timedelta(minutes=6)


def beat(connection: Connection | Session, process_id: str, now: datetime) -> None:
    """Record that this process is alive (creating its row the first time)."""
    table = ProcessHeartbeat.__table__  # type: ignore[attr-defined]
    result = connection.execute(
        update(table).where(table.c.id == process_id).values(last_seen_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        connection.execute(insert(table).values(id=process_id, started_at=now, last_seen_at=now))


def gaps(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end] that no process covered (with Slack's retry grace)."""
    rows = session.exec(
        select(ProcessHeartbeat)
        .where(col(ProcessHeartbeat.last_seen_at) >= start - GRACE)
        .order_by(col(ProcessHeartbeat.started_at))
    ).all()
    found: list[tuple[datetime, datetime]] = []
    cursor = start
    for row in rows:
        if row.started_at > cursor:
            found.append((cursor, min(row.started_at, end)))
        cursor = max(cursor, row.last_seen_at + GRACE)
        if cursor >= end:
            break
    if cursor < end:
        found.append((cursor, end))
    return [(a, b) for a, b in found if b > a]
