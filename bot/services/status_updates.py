"""Structured status updates and notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from bot.errors import UserError
from bot.models import Incident, IncidentStatus, StatusUpdate, TimelineKind
from bot.services import audit_log, incident_lifecycle, reminder_rules, timeline_entries


def add_note(session: Session, incident: Incident, text: str, *, actor: str, now: datetime) -> None:
    """Put a note on the timeline."""
    if not text.strip():
        raise UserError("Write the note after the command: `/incident note <text>`.")
    assert incident.id is not None
    timeline_entries.record(
        session, incident.id, TimelineKind.NOTE, now=now, actor=actor, text=text.strip()
    )


@dataclass(frozen=True)
class UpdateInput:
    """A structured status update."""

    status: IncidentStatus
    what_changed: str
    impact: str
    next_steps: str
    next_update_at: datetime


def post_update(
    session: Session, incident: Incident, data: UpdateInput, *, actor: str, now: datetime
) -> tuple[StatusUpdate, incident_lifecycle.Change | None]:
    """Record a status update; it may move the status and it resets the update clock."""
    change = None
    if data.status != incident.status:
        if data.status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
            raise UserError("Use `/incident resolve` or `/incident close` to end an incident.")
        change = incident_lifecycle.change_status(
            session, incident, data.status, actor=actor, now=now
        )
    if data.next_update_at <= now:
        raise UserError("The next update must be due in the future.")
    if data.impact.strip():
        audit_log.set_field(
            session, incident, "impact_summary", data.impact.strip(), actor=actor, now=now
        )
    audit_log.set_field(session, incident, "last_update_at", now, actor=actor, now=now)
    audit_log.set_field(
        session, incident, "next_update_due_at", data.next_update_at, actor=actor, now=now
    )
    reminder_rules.on_update(session, incident, data.next_update_at, now)
    assert incident.id is not None
    update = StatusUpdate(
        incident_id=incident.id,
        author_id=actor,
        status=data.status.value,
        what_changed=data.what_changed.strip(),
        impact=data.impact.strip(),
        next_steps=data.next_steps.strip(),
        created_at=now,
        next_update_at=data.next_update_at,
    )
    session.add(update)
    session.flush()
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.STATUS_UPDATE,
        now=now,
        actor=actor,
        text=data.what_changed.strip() or "No change, investigation ongoing",
        data={
            "update_id": update.id,
            "status": data.status.value,
            "impact": data.impact.strip(),
            "next_steps": data.next_steps.strip(),
            "next_update_at": data.next_update_at.isoformat(),
        },
    )
    return update, change


def update_count(session: Session, incident: Incident) -> int:
    """How many status updates an incident has had."""
    return int(
        session.exec(
            select(func.count())
            .select_from(StatusUpdate)
            .where(StatusUpdate.incident_id == incident.id)
        ).one()
    )
