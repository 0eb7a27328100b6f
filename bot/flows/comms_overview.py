"""`/incident comms`: what an incident told the outside world, where and when (status page,
email, pages, stakeholder updates), what is failing, and what is due next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.context import Context
from bot.flows import incident_changes
from bot.models import PublicUpdate, ScheduledTask, TaskKind, TaskState, TimelineEvent, TimelineKind
from bot.render import render

OUTWARD_KINDS = (TaskKind.EMAIL, TaskKind.PAGE, TaskKind.STAKEHOLDER)
SHOWN = 15  # the newest entries of each list; the count of the rest is given


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


def describe(ctx: Context, channel_id: str) -> str:
    """The comms overview of the incident whose channel this is."""
    incident = incident_changes.incident_in(ctx, channel_id)
    with ctx.db.read_session() as session:
        updates = [
            update.model_dump()
            for update in session.exec(
                select(PublicUpdate)
                .where(PublicUpdate.incident_id == incident.id)
                .order_by(col(PublicUpdate.created_at), col(PublicUpdate.id))
            ).all()
        ]
        sent = [
            {"occurred_at": event.occurred_at, "text": event.text}
            for event in session.exec(
                select(TimelineEvent)
                .where(
                    TimelineEvent.incident_id == incident.id,
                    TimelineEvent.kind == TimelineKind.COMMS,
                )
                .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
            ).all()
        ]
        open_tasks = session.exec(
            select(ScheduledTask)
            .where(
                ScheduledTask.incident_id == incident.id,
                col(ScheduledTask.kind).in_([str(kind) for kind in OUTWARD_KINDS]),
                col(ScheduledTask.state).in_([TaskState.PENDING, TaskState.DEAD]),
            )
            .order_by(col(ScheduledTask.due_at))
        ).all()
        outbound = [
            Outbound(t.kind, t.key, t.state, t.due_at, t.attempts, t.last_error, dict(t.data))
            for t in open_tasks
        ]
    return render(
        "comms_overview.j2",
        incident=incident,
        updates=updates[-SHOWN:],
        earlier_updates=max(len(updates) - SHOWN, 0),
        sent=sent[-SHOWN:],
        earlier_sent=max(len(sent) - SHOWN, 0),
        failing=[o for o in outbound if o.state == TaskState.DEAD or o.last_error],
        due=[o for o in outbound if o.state == TaskState.PENDING and not o.last_error][:SHOWN],
        status_page=ctx.policy.status_page,
        channels=ctx.policy.channels(incident.severity),
    )
