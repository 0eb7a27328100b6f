"""Arming scheduled tasks: a row per incident, kind and key, created once and brought back
as a fresh occurrence when it is due again, or cancelled. `tasks` claims and runs them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session
from sqlmodel import select as sm_select

from bot.db import insert_or_ignore
from bot.models import ScheduledTask, TaskState

# What a task's data says about one occurrence only: where it went, whom it notified, and
# which destinations Slack refused (tried again next time: an archived channel may be
# restored, a person re-activated; the timeline tells each refusal once per task).
_PER_OCCURRENCE = ("delivered", "notified", "refused")


def arm(
    *,
    session: Session,
    incident_id: int,
    kind: str,
    due_at: datetime,
    now: datetime,
    key: str = "",
    once: bool = False,
    if_not_pending: bool = False,
) -> ScheduledTask:
    """Arm a task to run at `due_at`: create it, or bring the existing one back.

    Brought back, a task is a fresh occurrence: pending, due at `due_at`, nothing
    delivered or refused, no error, no attempts, and no claim (one left by a process that died goes
    with it). A task armed `once` that has already run stays done: an escalation step or
    a target ping fires once per impact period, whatever happened in between. A task armed
    `if_not_pending` that is pending already keeps its due time and data. A task that a
    live process holds right now is left to it (a review draft being generated is not
    started twice). Returns the row either way (`try_arm` says whether it was armed).
    """
    task, _ = _arm(
        session, incident_id, kind, key, due_at, now, once=once, if_not_pending=if_not_pending
    )
    return task


def try_arm(
    *,
    session: Session,
    incident_id: int,
    kind: str,
    due_at: datetime,
    now: datetime,
    key: str = "",
    once: bool = False,
    if_not_pending: bool = False,
) -> ScheduledTask | None:
    """Arm a task as `arm` does: the row when it is now a fresh occurrence (created or
    brought back; the caller may fill in its data), None when it was left as it was."""
    task, armed = _arm(
        session, incident_id, kind, key, due_at, now, once=once, if_not_pending=if_not_pending
    )
    return task if armed else None


def _arm(
    session: Session,
    incident_id: int,
    kind: str,
    key: str,
    due_at: datetime,
    now: datetime,
    *,
    once: bool,
    if_not_pending: bool,
) -> tuple[ScheduledTask, bool]:
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    values = {
        "incident_id": incident_id,
        "kind": str(kind),
        "key": key,
        "state": TaskState.PENDING,
        "due_at": due_at,
        "attempts": 0,
        "data": {},
        "created_at": now,
        "updated_at": now,
    }
    statement = insert_or_ignore(
        table, tuple(values), ("incident_id", "kind", "key"), session.get_bind().dialect.name
    )
    inserted = session.execute(statement, values).scalar()
    task = session.exec(
        sm_select(ScheduledTask).where(
            ScheduledTask.incident_id == incident_id,
            ScheduledTask.kind == kind,
            ScheduledTask.key == key,
        )
    ).one()
    if inserted is not None:
        return task, True
    if (once and task.state == TaskState.DONE) or (
        if_not_pending and task.state == TaskState.PENDING
    ):
        return task, False
    if (
        task.claim_token is not None
        and task.claimed_until is not None
        and task.claimed_until >= now
    ):
        return task, False
    occurrence = int(task.data.get("occurrence", 0)) + 1
    task.data = {
        **{k: v for k, v in task.data.items() if k not in _PER_OCCURRENCE},
        "occurrence": occurrence,
    }
    task.state = TaskState.PENDING
    task.due_at = due_at
    task.attempts = 0
    task.last_error = None
    task.claim_token = None
    task.claimed_until = None
    task.updated_at = now
    session.add(task)
    session.flush()
    return task, True


def cancel(
    *,
    session: Session,
    incident_id: int,
    kinds: Iterable[str],
    now: datetime,
    key: str | None = None,
    key_like: str | None = None,
    not_fired: bool = False,
) -> None:
    """Cancel an incident's pending tasks of these kinds: every one, the one with `key`, or
    those whose key matches the SQL LIKE pattern `key_like`. With `not_fired`, only those
    neither due yet nor tried (one on its way tells of something that happened)."""
    table = ScheduledTask.__table__  # type: ignore[attr-defined]
    statement = update(table).where(
        table.c.incident_id == incident_id,
        table.c.kind.in_([str(kind) for kind in kinds]),
        table.c.state == TaskState.PENDING,
    )
    if key is not None:
        statement = statement.where(table.c.key == key)
    if key_like is not None:
        statement = statement.where(table.c.key.like(key_like))
    if not_fired:
        statement = statement.where(table.c.due_at > now, table.c.attempts == 0)
    session.execute(statement.values(state=TaskState.CANCELLED, updated_at=now))


def find(*, session: Session, incident_id: int, kind: str, key: str = "") -> int | None:
    """The ID of an incident's task of this kind and key, if it has one."""
    return session.exec(
        sm_select(ScheduledTask.id).where(
            ScheduledTask.incident_id == incident_id,
            ScheduledTask.kind == kind,
            ScheduledTask.key == key,
        )
    ).first()
