"""What an incident told the outside world, read in one go: its public updates, the
outward deliveries on its timeline, and the deliveries still due or failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.models import PublicUpdate, ScheduledTask, TaskKind, TaskState, TimelineEvent, TimelineKind

OUTWARD_KINDS = (TaskKind.EMAIL, TaskKind.PAGE, TaskKind.STAKEHOLDER)


@dataclass(frozen=True)
class Outbound:
    """A delivery not (yet) made: due, retrying after a failure, or given up on."""

    kind: str
    key: str
    state: str
    due_at: datetime
    attempts: int
    last_error: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class CommsHistory:
    """An incident's public updates (oldest first), its sent or skipped deliveries (from
    the timeline, oldest first), and the deliveries not made yet (soonest first)."""

    updates: list[dict[str, Any]]
    sent: list[dict[str, Any]]
    outbound: list[Outbound]


def load(session: Session, incident_id: int) -> CommsHistory:
    """The comms history of an incident."""
    updates = [
        update.model_dump()
        for update in session.exec(
            select(PublicUpdate)
            .where(PublicUpdate.incident_id == incident_id)
            .order_by(col(PublicUpdate.created_at), col(PublicUpdate.id))
        ).all()
    ]
    sent = [
        {"occurred_at": event.occurred_at, "text": event.text}
        for event in session.exec(
            select(TimelineEvent)
            .where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind == TimelineKind.COMMS,
            )
            .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
        ).all()
    ]
    open_tasks = session.exec(
        select(ScheduledTask)
        .where(
            ScheduledTask.incident_id == incident_id,
            col(ScheduledTask.kind).in_([str(kind) for kind in OUTWARD_KINDS]),
            col(ScheduledTask.state).in_([TaskState.PENDING, TaskState.DEAD]),
        )
        .order_by(col(ScheduledTask.due_at))
    ).all()
    outbound = [
        Outbound(t.kind, t.key, t.state, t.due_at, t.attempts, t.last_error, dict(t.data))
        for t in open_tasks
    ]
    return CommsHistory(updates, sent, outbound)
