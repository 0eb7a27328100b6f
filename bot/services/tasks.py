"""Scheduled tasks: rows with a due time, claimed atomically with a lease.

Any number of processes may sweep at once: a claim is one UPDATE whose subquery skips rows
locked by others on PostgreSQL (`FOR UPDATE SKIP LOCKED`) and takes SQLite's write lock up
front, so a due row goes to exactly one claimant until its lease runs out.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session

from bot.db import Database
from bot.models import Incident, ScheduledTask, TaskKind, TaskState

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=15)
FIRST_BACKOFF = timedelta(seconds=5)
MAX_ATTEMPTS = 200
# Kinds that may run for long: never claimed in a batch with others.
LONG_RUNNING = (TaskKind.PIR,)
# Email and pages: claimed apart and sent on the outbound pool, never in the sweep's batch.
OUTBOUND = (TaskKind.EMAIL, TaskKind.PAGE)


class ClaimLost(Exception):
    """The task was given back, but this process no longer held it: its lease ran out and
    another process claimed it, whose outcome counts (this one records nothing)."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(f"task {claim.task_id} ({claim.kind}) went to another process")
        self.claim = claim


@dataclass(frozen=True)
class Claim:
    """A task this process holds until `claimed_until`."""

    task_id: int
    incident_id: int
    kind: str
    key: str
    attempts: int
    token: str


def _claimable(now: datetime) -> object:
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    return and_(
        table.c.state == TaskState.PENDING,
        table.c.due_at <= now,
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
    )


def _claim(db: Database, now: datetime, lease: timedelta, where: object, limit: int) -> list[Claim]:
    token = str(uuid.uuid4())
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    # UPDATE … FROM (the chosen ids): a join on the primary key that keeps PostgreSQL's plan
    # on the due-time index whatever the table's size (an IN (subquery) may hash-join it).
    chosen = (
        select(table.c.id)
        .where(where)  # type: ignore[arg-type]
        .order_by(table.c.due_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .subquery("chosen")
    )
    statement = (
        update(table)
        .where(table.c.id == chosen.c.id)
        .values(
            claim_token=token,
            claimed_until=now + lease,
            attempts=table.c.attempts + 1,
            updated_at=now,
        )
        .returning(table.c.id, table.c.incident_id, table.c.kind, table.c.key, table.c.attempts)
    )
    with db.single_statement() as connection:
        rows = connection.execute(statement).all()
    claims = [
        Claim(
            task_id=row.id,
            incident_id=row.incident_id,
            kind=row.kind,
            key=row.key,
            attempts=row.attempts,
            token=token,
        )
        for row in rows
    ]
    return sorted(claims, key=lambda claim: claim.task_id)


def claim_due(
    *,
    db: Database,
    now: datetime,
    limit: int = 50,
    lease: timedelta = DEFAULT_LEASE,
    long_running: bool = False,
    kinds: tuple[str, ...] = (),
) -> list[Claim]:
    """Claim up to `limit` due tasks for this process.

    Long-running kinds (a review draft reads Slack's history and uploads a file) are
    claimed apart, one at a time with a lease of their own, so that they never hold the
    claims of a batch of reminders while their leases run out. Outbound kinds (email,
    pages) are claimed only when asked for by name (`kinds`).
    """
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    apart = [str(kind) for kind in (*LONG_RUNNING, *OUTBOUND)]
    if kinds:
        chosen = table.c.kind.in_([str(kind) for kind in kinds])
    elif long_running:
        chosen = table.c.kind.in_([str(kind) for kind in LONG_RUNNING])
    else:
        chosen = table.c.kind.not_in(apart)
    where = and_(_claimable(now), chosen)  # type: ignore[arg-type]
    return _claim(db, now, lease, where, 1 if long_running and not kinds else limit)


def renew(*, db: Database, claim: Claim, now: datetime, lease: timedelta = DEFAULT_LEASE) -> bool:
    """Extend a claim's lease before acting on it; False when another process took it over."""
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    with db.single_statement() as connection:
        result = connection.execute(
            update(table)
            .where(
                table.c.id == claim.task_id,
                table.c.claim_token == claim.token,
                table.c.state == TaskState.PENDING,
            )
            .values(claimed_until=now + lease)
        )
    return bool(result.rowcount)


def load(db: Database, claim: Claim) -> tuple[ScheduledTask, Incident] | None:
    """A claimed task's row and its incident (None when either is gone)."""
    with db.session() as session:
        task = session.get(ScheduledTask, claim.task_id)
        incident = session.get(Incident, claim.incident_id)
    if task is None or incident is None:
        return None
    return task, incident


def claim_task(
    *, db: Database, task_id: int, now: datetime, lease: timedelta = DEFAULT_LEASE
) -> Claim | None:
    """Claim one task now if it is pending and nobody holds it (due or not)."""
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    where = and_(
        table.c.id == task_id,
        table.c.state == TaskState.PENDING,
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
    )
    claims = _claim(db, now, lease, where, 1)
    return claims[0] if claims else None


def claim_and_run(
    *, db: Database, task_id: int, now: datetime, run: Callable[[Claim], T]
) -> T | None:
    """Claim one task now and run it: what `run` returns, or None when another process
    holds the task, before it could be claimed or by the time `run` gives it back."""
    claim = claim_task(db=db, task_id=task_id, now=now)
    if claim is None:
        return None
    try:
        return run(claim)
    except ClaimLost as lost:
        log.warning("%s while this process was running it; it finishes there", lost)
        return None


def complete(*, session: Session, claim: Claim, now: datetime) -> bool:
    """Mark the task done if this claim still holds it; False if the lease was lost."""
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    result = session.execute(
        update(table)
        .where(table.c.id == claim.task_id, table.c.claim_token == claim.token)
        .values(
            state=TaskState.DONE,
            claim_token=None,
            claimed_until=None,
            last_error=None,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def postpone(*, session: Session, claim: Claim, due: datetime, now: datetime) -> bool:
    """Give the task back unposted, due again at `due` (not a failure: no error kept)."""
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    result = session.execute(
        update(table)
        .where(table.c.id == claim.task_id, table.c.claim_token == claim.token)
        .values(
            claim_token=None,
            claimed_until=None,
            due_at=due,
            attempts=0,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def save_progress(
    *, session: Session, claim: Claim, data: dict[str, object], now: datetime
) -> bool:
    """Store what a claimed task has done so far, if this claim still holds it."""
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    result = session.execute(
        update(table)
        .where(table.c.id == claim.task_id, table.c.claim_token == claim.token)
        .values(data=data, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempts: int) -> timedelta:
    """Exponential back-off for the n-th failed attempt, capped."""
    delay: timedelta = FIRST_BACKOFF * (2 ** min(max(attempts - 1, 0), 16))
    return min(delay, MAX_BACKOFF)


def release(
    *,
    session: Session,
    claim: Claim,
    now: datetime,
    error: str,
    retry_after: timedelta | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    give_up: bool = False,
) -> datetime | None:
    """Give the task back after a failure, due again after Retry-After or a back-off.

    Returns the new due time, or None when the task is set aside for good (state `dead`,
    its last error kept): after `max_attempts` attempts, or at once with `give_up`.
    Raises ClaimLost when another process holds the task by now: what follows a release
    (a "not sent" entry, a notice that the bot gave up) is then that process's to say.
    """
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    give_up = give_up or claim.attempts >= max_attempts
    due = now + (retry_after if retry_after is not None else backoff(claim.attempts))
    result = session.execute(
        update(table)
        .where(table.c.id == claim.task_id, table.c.claim_token == claim.token)
        .values(
            state=TaskState.DEAD if give_up else TaskState.PENDING,
            claim_token=None,
            claimed_until=None,
            due_at=due,
            last_error=error[:1000],
            updated_at=now,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise ClaimLost(claim)
    return None if give_up else due
