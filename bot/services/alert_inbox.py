"""The alert inbox: every alert is stored before its sender gets a 2xx, then claimed.

A row is unique on source, fingerprint, start and status, so a sender's retry of the same
notification (Alertmanager retries until it gets a 2xx) and the same notification at two
replicas land once. Routing and Slack work happen after the reply: rows are claimed with a
lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and a failure gives the row back with a
back-off until it is set aside (`dead`) after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlmodel import Session

from bot.db import Database, insert_or_ignore
from bot.models import AlertRecord, AlertSilence, AlertState
from bot.services import tasks
from bot.services.alert_formats import Alert

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12

_COLUMNS = (
    "source",
    "fingerprint",
    "status",
    "starts_at",
    "ends_at",
    "name",
    "title",
    "severity",
    "service",
    "link",
    "labels",
    "annotations",
    "received_at",
    "state",
    "attempts",
    "note",
    "handled",
)


@dataclass(frozen=True)
class Stored:
    """What one webhook request added: new rows, and notifications seen before."""

    ids: list[int]
    duplicates: int


def store(session: Session, *, source: str, alerts: list[Alert], now: datetime) -> Stored:
    """Insert each alert unless the same notification is there already."""
    table = AlertRecord.__table__  # type: ignore[attr-defined]
    statement = insert_or_ignore(
        table,
        _COLUMNS,
        ("source", "fingerprint", "starts_at", "status"),
        session.get_bind().dialect.name,
    )
    ids: list[int] = []
    duplicates = 0
    for alert in alerts:
        values: dict[str, Any] = {
            "source": source,
            "fingerprint": alert.fingerprint,
            "status": alert.status,
            "starts_at": alert.starts_at,
            "ends_at": alert.ends_at,
            "name": alert.name,
            "title": alert.title,
            "severity": alert.severity,
            "service": alert.service,
            "link": alert.link,
            "labels": alert.labels,
            "annotations": {**alert.annotations, "_description": alert.description},
            "received_at": now,
            "state": AlertState.PENDING,
            "attempts": 0,
            "note": "",
            "handled": {},
        }
        new_id = session.execute(statement, values).scalar()
        if new_id is None:
            duplicates += 1
        else:
            ids.append(int(new_id))
    return Stored(ids, duplicates)


@dataclass(frozen=True)
class AlertClaim:
    """An alert row this process holds until its lease runs out."""

    alert_id: int
    attempts: int
    token: str


def claim(db: Database, *, now: datetime, limit: int = 100) -> list[AlertClaim]:
    """Claim up to `limit` pending alerts that are due, oldest first."""
    table = AlertRecord.__table__  # type: ignore[attr-defined]
    token = str(uuid.uuid4())
    chosen = (
        select(table.c.id)
        .where(
            table.c.state == AlertState.PENDING,
            or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
            or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        )
        .order_by(table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .subquery("chosen")
    )
    with db.single_statement() as connection:
        rows = connection.execute(
            update(table)
            .where(table.c.id == chosen.c.id)
            .values(claim_token=token, claimed_until=now + LEASE, attempts=table.c.attempts + 1)
            .returning(table.c.id, table.c.attempts)
        ).all()
    return sorted(
        (AlertClaim(row.id, row.attempts, token) for row in rows), key=lambda c: c.alert_id
    )


def held(session: Session, claim_: AlertClaim) -> AlertRecord | None:
    """The claimed row, if this claim still holds it."""
    row = session.get(AlertRecord, claim_.alert_id)
    if row is None or row.claim_token != claim_.token or row.state != AlertState.PENDING:
        return None
    return row


def finish(session: Session, claim_: AlertClaim) -> None:
    """Mark a claimed alert handled."""
    table = AlertRecord.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == claim_.alert_id, table.c.claim_token == claim_.token)
        .values(state=AlertState.DONE, claim_token=None, claimed_until=None, last_error=None)
    )


def fail(
    session: Session,
    claim_: AlertClaim,
    *,
    now: datetime,
    error: str,
    retry_after: timedelta | None = None,
) -> bool:
    """Give a claimed alert back after a failure; False when it is set aside for good."""
    table = AlertRecord.__table__  # type: ignore[attr-defined]
    dead = claim_.attempts >= MAX_ATTEMPTS
    session.execute(
        update(table)
        .where(table.c.id == claim_.alert_id, table.c.claim_token == claim_.token)
        .values(
            state=AlertState.DEAD if dead else AlertState.PENDING,
            claim_token=None,
            claimed_until=None,
            next_attempt_at=now + (retry_after or tasks.backoff(claim_.attempts)),
            last_error=error[:2000],
        )
    )
    return not dead


def purge(db: Database, *, now: datetime, keep: timedelta, limit: int = 500) -> int:
    """Forget handled alerts older than `keep` that no incident or silence refers to."""
    table = AlertRecord.__table__  # type: ignore[attr-defined]
    silences = AlertSilence.__table__  # type: ignore[attr-defined]
    old = (
        select(table.c.id)
        .where(
            table.c.state == AlertState.DONE,
            table.c.received_at < now - keep,
            table.c.incident_id.is_(None),
            table.c.id.not_in(select(silences.c.alert_id).where(silences.c.alert_id.is_not(None))),
        )
        .limit(limit)
        .scalar_subquery()
    )
    with db.single_statement() as connection:
        result = connection.execute(delete(table).where(table.c.id.in_(old)))
    return int(result.rowcount or 0)


__all__ = ["AlertClaim", "Stored", "claim", "fail", "finish", "held", "purge", "store"]
