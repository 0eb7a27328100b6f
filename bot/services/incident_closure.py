"""Closing an incident: what must be filled in first, why it is closed (real incidents
count in the process figures, false positives and the like do not), and who is asked the
post-incident survey."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.errors import UserError
from bot.models import (
    ClosingReason,
    Incident,
    IncidentStatus,
    RoleAssignment,
    TaskKind,
    TimelineKind,
)
from bot.policy import Policy
from bot.render import clip
from bot.services import audit_log, reminder_rules, task_schedule, timeline_entries
from bot.services.incident_lifecycle import PLACEHOLDERS


def missing_for_closure(incident: Incident, policy: Policy) -> list[str]:
    """The fields the policy requires for closure that are still empty."""
    fields = {
        "root_cause": incident.root_cause,
        "resolution": incident.resolution,
        "impact": incident.impact_summary,
    }
    return [
        name
        for name in policy.closure_requires
        if fields[name].strip().lower().rstrip(".") in PLACEHOLDERS
    ]


CLOSING_WORDS = {
    "resolved": ClosingReason.RESOLVED,
    "false-positive": ClosingReason.FALSE_POSITIVE,
    "false_positive": ClosingReason.FALSE_POSITIVE,
    "duplicate": ClosingReason.DUPLICATE,
    "maintenance": ClosingReason.PLANNED_MAINTENANCE,
    "planned-maintenance": ClosingReason.PLANNED_MAINTENANCE,
    "planned_maintenance": ClosingReason.PLANNED_MAINTENANCE,
    "test": ClosingReason.TEST,
}


def parse_closing_reason(word: str) -> ClosingReason:
    """A closing reason from what a person typed (or a form's value)."""
    reason = CLOSING_WORDS.get(word.strip().lower())
    if reason is None:
        raise UserError(
            f"`{clip(word, 30)}` is not a closing reason: use resolved, false-positive, "
            "duplicate, maintenance or test."
        )
    return reason


def check_closable(incident: Incident, policy: Policy) -> None:
    """Refuse, with what to do, an incident that cannot be closed yet."""
    current = IncidentStatus(incident.status)
    if current == IncidentStatus.CLOSED:
        raise UserError(f"{incident.reference} is already closed.")
    if current != IncidentStatus.RESOLVED:
        raise UserError(
            f"{incident.reference} is {current.value}: resolve it first with `/incident resolve`."
        )
    missing = missing_for_closure(incident, policy)
    if missing:
        words = ", ".join(name.replace("_", " ") for name in missing)
        raise UserError(
            f"{incident.reference} cannot be closed yet: {words} still missing. Fill them in "
            "with `/incident resolve` (root cause, resolution, impact) and close again."
        )


def close(
    session: Session,
    incident: Incident,
    *,
    actor: str,
    now: datetime,
    policy: Policy,
    reason: ClosingReason = ClosingReason.RESOLVED,
) -> None:
    """Close a resolved incident whose required fields are filled, with why; the people
    the policy asks get the post-incident survey."""
    check_closable(incident, policy)
    audit_log.set_field(session, incident, "closing_reason", reason.value, actor=actor, now=now)
    audit_log.set_field(session, incident, "closed_at", now, actor=actor, now=now)
    audit_log.set_field(
        session, incident, "status", IncidentStatus.CLOSED.value, actor=actor, now=now
    )
    reminder_rules.on_resolved(session, incident, now)
    assert incident.id is not None
    if policy.survey.enabled and reason == ClosingReason.RESOLVED:
        for person in survey_people(session, incident, policy):
            task_schedule.arm(
                session=session,
                incident_id=incident.id,
                kind=TaskKind.SURVEY,
                key=person,
                due_at=now,
                now=now,
                once=True,  # closed again after a reopening: asked once
            )
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.CLOSED,
        now=now,
        actor=actor,
        text="Closed" if reason == ClosingReason.RESOLVED else f"Closed ({reason.value})",
        data={"reason": reason.value},
    )


def survey_people(session: Session, incident: Incident, policy: Policy) -> list[str]:
    """Who the post-incident survey asks: the reporter, and the business liaison if any."""
    people = [incident.reporter_id] if incident.reporter_id else []
    if policy.survey.business_liaison and "business_liaison" in policy.roles:
        liaison = session.exec(
            select(RoleAssignment.user_id).where(
                RoleAssignment.incident_id == incident.id,
                RoleAssignment.role == "business_liaison",
                RoleAssignment.ended_at.is_(None),  # type: ignore[union-attr]
            )
        ).first()
        if liaison and liaison not in people:
            people.append(liaison)
    return people
