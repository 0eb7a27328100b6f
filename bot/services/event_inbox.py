"""The event inbox: Slack events are written durably before they are acknowledged.

An event is recorded and, in the same transaction, processed; if processing fails the
row stays pending with its error and the sweeper tries again later, and after repeated
failures sets it aside (state `dead`) while the rest keeps flowing. The unique event_id
makes Slack's retries and duplicate deliveries land once, across processes.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from bot.db import Database, insert_or_ignore
from bot.models import InboxEvent, InboxState, Incident
from bot.services import tasks
from bot.storable import storable

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Longer strings in an event are cut when it is repaired (Slack's messages hold 40,000).
MAX_TEXT = 100_000
LEASE = timedelta(minutes=2)
RETENTION = timedelta(days=7)
# How long an event of a channel that is no incident's is kept in case it becomes one.
UNMATCHED_TTL = timedelta(minutes=15)

Processor = Callable[[Session, dict[str, Any]], str]


def receive(
    db: Database,
    *,
    event_id: str,
    body: dict[str, Any],
    channel_id: str | None,
    now: datetime,
    process: Processor,
    keep: bool = True,
) -> str:
    """Store an event (once) and process it; returns the outcome, or `duplicate`.

    The common case is one transaction: the inbox row, written as processed, and what
    processing writes. If processing fails, that transaction is rolled back and the event
    is stored on its own as pending, with its error, for the sweeper to retry. If even that
    cannot be written, the error goes up and Slack, getting no acknowledgement, retries.

    `keep=False` is for events whose processing is itself idempotent under a unique key
    (messages, keyed by channel and ts): a processed one needs no inbox row of its own.
    """
    values = _row(event_id, body, channel_id, now, attempts=1)
    try:
        with db.session() as session:
            if keep and not _insert(session, {**values, "state": InboxState.DONE}):
                return "duplicate"
            return process(session, body)
    except Exception as exc:
        repaired = None if is_outage(exc) else repair(body)
        if repaired is not None:
            try:
                with db.session() as session:
                    if keep and not _insert(
                        session, {**values, "payload": repaired, "state": InboxState.DONE}
                    ):
                        return "duplicate"
                    outcome = process(session, repaired)
            except Exception:
                log.exception("event %s failed even with its text repaired", event_id)
            else:
                log.warning("event %s recorded with unstorable parts replaced", event_id)
                return outcome
        log.exception("event %s failed; it will be retried", event_id)
        with db.session() as session:
            _insert(
                session,
                {
                    **values,
                    "state": InboxState.PENDING,
                    "last_error": repr(exc)[:2000],
                    "next_attempt_at": now + tasks.backoff(1),
                },
            )
        return "failed"


def is_outage(error: BaseException) -> bool:
    """Whether a failure is the database being unreachable or busy (worth retrying as is)."""
    return isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)


def repair(body: dict[str, Any]) -> dict[str, Any] | None:
    """The event with every string made storable and cut to `MAX_TEXT`, or None when that
    changes nothing (then retrying it as is is all there is to do)."""
    repaired = _cut(storable(copy.deepcopy(body)))
    return repaired if repaired != body else None


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT]
    if isinstance(value, dict):
        return {key: _cut(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item) for item in value]
    return value


def _row(
    event_id: str, body: dict[str, Any], channel_id: str | None, now: datetime, *, attempts: int
) -> dict[str, Any]:
    """An inbox row's columns for a delivered event."""
    event = body.get("event") or {}
    return {
        "event_id": event_id[:64],
        "event_type": str(event.get("subtype") or event.get("type") or "")[:64],
        "channel_id": channel_id,
        "received_at": now,
        "payload": body,
        "attempts": attempts,
    }


_INSERT_COLUMNS = (
    "event_id",
    "event_type",
    "channel_id",
    "received_at",
    "payload",
    "attempts",
    "state",
    "last_error",
    "next_attempt_at",
)


def _insert(session: Session, values: dict[str, Any]) -> bool:
    """Insert an inbox row unless its event_id is there already; True if inserted."""
    params = {"last_error": None, "next_attempt_at": None, **values}
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    statement = insert_or_ignore(
        table, _INSERT_COLUMNS, "event_id", session.get_bind().dialect.name
    )
    return session.execute(statement, params).scalar() is not None


def _failed(session: Session, inbox_id: int, attempts: int, now: datetime, exc: Exception) -> None:
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    dead = attempts >= MAX_ATTEMPTS
    session.execute(
        update(table)
        .where(table.c.id == inbox_id)
        .values(
            state=InboxState.DEAD if dead else InboxState.PENDING,
            last_error=repr(exc)[:2000],
            next_attempt_at=now + tasks.backoff(attempts),
            claim_token=None,
            claimed_until=None,
        )
    )
    if dead:
        log.error("event inbox row %s set aside after %s attempts: %r", inbox_id, attempts, exc)


def hold(
    db: Database, *, event_id: str, body: dict[str, Any], channel_id: str, now: datetime
) -> str:
    """Keep an event of a channel that is no incident's yet (`unmatched`), for a while.

    If the channel becomes an incident's channel soon (its set-up may be running on another
    replica right now), `adopt` records the event then; otherwise `purge` forgets it.
    """
    values = _row(event_id, body, channel_id, now, attempts=0)
    with db.session() as session:
        return (
            "held" if _insert(session, {**values, "state": InboxState.UNMATCHED}) else "duplicate"
        )


def _claim(db: Database, where: Any, now: datetime, limit: int) -> tuple[str, list[Any]]:
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    token = str(uuid.uuid4())
    chosen = (
        select(table.c.id)
        .where(where)
        .order_by(table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    with db.single_statement() as connection:
        claimed = connection.execute(
            update(table)
            .where(table.c.id.in_(chosen))
            .values(
                state=InboxState.PENDING,
                claim_token=token,
                claimed_until=now + LEASE,
                attempts=table.c.attempts + 1,
            )
            .returning(table.c.id, table.c.attempts)
        ).all()
    return token, sorted(claimed)


def _process_claimed(
    db: Database, token: str, claimed: list[Any], now: datetime, process: Processor
) -> None:
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    for inbox_id, attempts in claimed:
        with db.session() as session:
            row = session.execute(
                select(table.c.payload).where(table.c.id == inbox_id, table.c.claim_token == token)
            ).first()
            if row is None:
                continue
            payload = dict(row.payload)
            try:
                with session.begin_nested():
                    process(session, payload)
            except Exception as exc:
                repaired = None if is_outage(exc) else repair(payload)
                try:
                    if repaired is None:
                        raise
                    with session.begin_nested():
                        process(session, repaired)
                except Exception:
                    _failed(session, inbox_id, attempts, now, exc)
                    continue
                payload = repaired
            session.execute(
                update(table)
                .where(table.c.id == inbox_id, table.c.claim_token == token)
                .values(
                    state=InboxState.DONE, payload=payload, claim_token=None, claimed_until=None
                )
            )


def drain(db: Database, *, now: datetime, process: Processor, limit: int = 100) -> int:
    """Retry pending events that failed before (claimed with a lease); returns how many."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    where = and_(
        table.c.state == InboxState.PENDING,
        or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        table.c.received_at < now - timedelta(seconds=30),
    )
    token, claimed = _claim(db, where, now, limit)
    _process_claimed(db, token, claimed, now, process)
    return len(claimed)


def adopt(
    db: Database,
    *,
    now: datetime,
    process: Processor,
    channel_id: str | None = None,
    limit: int = 500,
) -> int:
    """Record the held events whose channel has become an incident's (one channel's, or
    every such channel's); returns how many."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    incident = Incident.__table__  # type: ignore[attr-defined]
    known = select(incident.c.channel_id).where(incident.c.channel_id.is_not(None))
    if channel_id is not None:
        known = known.where(incident.c.channel_id == channel_id)
    where = and_(table.c.state == InboxState.UNMATCHED, table.c.channel_id.in_(known))
    token, claimed = _claim(db, where, now, limit)
    _process_claimed(db, token, claimed, now, process)
    return len(claimed)


def purge(db: Database, *, now: datetime, limit: int = 200) -> int:
    """Forget processed events older than the retention (Slack retries within minutes), and
    held events whose channel did not become an incident's in time."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    old = (
        select(table.c.id)
        .where(
            or_(
                and_(table.c.state == InboxState.DONE, table.c.received_at < now - RETENTION),
                and_(
                    table.c.state == InboxState.UNMATCHED,
                    table.c.received_at < now - UNMATCHED_TTL,
                ),
            )
        )
        .limit(limit)
        .scalar_subquery()
    )
    with db.single_statement() as connection:
        result = connection.execute(delete(table).where(table.c.id.in_(old)))
    return int(result.rowcount or 0)


def problems(db: Database) -> list[InboxEvent]:
    """Events still pending after a failure, and those set aside, oldest first."""
    with db.session() as session:
        return list(
            session.exec(
                sm_select(InboxEvent)
                .where(col(InboxEvent.state).in_([InboxState.PENDING, InboxState.DEAD]))
                .order_by(col(InboxEvent.id))
            ).all()
        )


def replay(db: Database, *, now: datetime, ids: list[int] | None = None) -> int:
    """Put pending and set-aside events (these IDs, or all) up for the next sweep, as if
    they had just failed once; returns how many."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    where = table.c.state.in_([InboxState.PENDING, InboxState.DEAD])
    if ids is not None:
        where = and_(where, table.c.id.in_(ids))
    with db.session() as session:
        result = session.execute(
            update(table)
            .where(where)
            .values(
                state=InboxState.PENDING,
                attempts=0,
                next_attempt_at=now,
                claim_token=None,
                claimed_until=None,
            )
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
