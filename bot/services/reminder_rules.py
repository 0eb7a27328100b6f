"""Reminder rules: which nags and escalation pings are due when, kept as task rows.

The rows are the schedule; the sweeper only claims due ones. Every change to an incident
that moves a reminder calls in here, in the same transaction as the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.errors import UserError
from bot.models import (
    Incident,
    ScheduledTask,
    TaskKind,
    TaskState,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import EscalationStep, Policy
from bot.services import impact_periods, outward_rules, task_schedule

REMINDER_KINDS = (
    TaskKind.NAG,
    TaskKind.RESPONSE,
    TaskKind.ESCALATION,
    TaskKind.RESOLUTION,
    TaskKind.STALE,
)
# Cancelled when the incident is resolved (a reopen arms them again).
UNTIL_RESOLVED = REMINDER_KINDS


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


def _arm(
    session: Session,
    incident: Incident,
    kind: TaskKind,
    key: str,
    due: datetime,
    now: datetime,
    *,
    once: bool = False,
) -> ScheduledTask:
    return task_schedule.arm(
        session=session,
        incident_id=_id(incident),
        kind=kind,
        key=key,
        due_at=due,
        now=now,
        once=once,
    )


def schedule_nag(session: Session, incident: Incident, due: datetime, now: datetime) -> None:
    """The next status-update nag, due at `due` (replacing any pending one).

    Each nag is a row of its own (`n1`, `n2`, …); the caller holds the incident's row lock,
    so two changes at once cannot pick the same number.
    """
    task_schedule.cancel(session=session, incident_id=_id(incident), kinds=(TaskKind.NAG,), now=now)
    count = session.exec(
        select(func.count())
        .select_from(ScheduledTask)
        .where(ScheduledTask.incident_id == _id(incident), ScheduledTask.kind == TaskKind.NAG)
    ).one()
    _arm(session, incident, TaskKind.NAG, f"n{int(count) + 1}", due, now)


def _arm_response(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """The response-target check (once), unless someone has taken the incident already."""
    if incident.commander_id is None and incident.acknowledged_at is None:
        target = policy.severity(incident.severity).response_target
        due = incident.declared_at + target
        _arm(session, incident, TaskKind.RESPONSE, incident.severity, due, now, once=True)


def escalation_key(ordinal: int, severity: str, index: int) -> str:
    """The task key of one escalation step in one impact period."""
    return f"p{ordinal}:{severity}:{index}"


def escalation_step(task: ScheduledTask, policy: Policy) -> EscalationStep | None:
    """The policy step an escalation task stands for (None if the policy changed since)."""
    _, severity_key, index = [*task.key.split(":"), "", "", ""][:3]
    severity = policy.severities.get(severity_key)
    if severity is None or not index.isdigit() or int(index) >= len(severity.escalation):
        return None
    return severity.escalation[int(index)]


def _arm_period(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Escalation steps and the resolution target for the current impact period (once each)."""
    severity = policy.severity(incident.severity)
    ordinal, start = impact_periods.ordinal_and_start(session, incident)
    for index, step in enumerate(severity.escalation):
        key = escalation_key(ordinal, incident.severity, index)
        _arm(session, incident, TaskKind.ESCALATION, key, start + step.after, now, once=True)
    _arm(
        session,
        incident,
        TaskKind.RESOLUTION,
        f"p{ordinal}:{incident.severity}",
        start + severity.resolution_target,
        now,
        once=True,
    )


def arm(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Every reminder of a newly declared incident."""
    severity = policy.severity(incident.severity)
    base = incident.last_update_at or incident.declared_at
    due = incident.next_update_due_at or base + severity.update_interval
    incident.next_update_due_at = due
    session.add(incident)
    schedule_nag(session, incident, due, now)
    _arm_response(session, incident, policy, now)
    _arm_period(session, incident, policy, now)
    _arm(session, incident, TaskKind.STALE, "", now + policy.stale_after, now)
    outward_rules.on_declared(session, incident, policy, now)


def on_update(session: Session, incident: Incident, due: datetime, now: datetime) -> None:
    """A status update was posted: the next nag is due when the update says."""
    schedule_nag(session, incident, due, now)


def on_acknowledged(session: Session, incident: Incident, now: datetime) -> None:
    """Someone took the incident: the response target no longer needs a ping."""
    task_schedule.cancel(
        session=session, incident_id=_id(incident), kinds=(TaskKind.RESPONSE,), now=now
    )
    outward_rules.on_acknowledged(session, incident, now)


def on_severity_change(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """New severity, new cadence and targets: nag, response, escalation and resolution move.

    Steps of the new severity that already fired in this impact period stay fired.
    """
    severity = policy.severity(incident.severity)
    base = incident.last_update_at or incident.declared_at
    due = max(base + severity.update_interval, now)
    incident.next_update_due_at = due
    session.add(incident)
    schedule_nag(session, incident, due, now)
    task_schedule.cancel(
        session=session,
        incident_id=_id(incident),
        kinds=(TaskKind.RESPONSE, TaskKind.ESCALATION, TaskKind.RESOLUTION),
        now=now,
    )
    _arm_response(session, incident, policy, now)
    _arm_period(session, incident, policy, now)
    outward_rules.on_severity_change(session, incident, policy, now)


def on_resolved(session: Session, incident: Incident, now: datetime) -> None:
    """Resolved or closed: nothing more to nag or escalate about."""
    task_schedule.cancel(session=session, incident_id=_id(incident), kinds=UNTIL_RESOLVED, now=now)
    incident.next_update_due_at = None
    session.add(incident)
    outward_rules.on_resolved(session, incident, now)


def business_days_after(moment: datetime, days: int) -> datetime:
    """`days` working days (Monday to Friday) after `moment`."""
    current = moment
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def on_resolved_review(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """A severity that needs a review: draft it now, and remind people to hold it in time."""
    if not policy.severity(incident.severity).pir_required or incident.review_held_at:
        return
    if policy.pir_on_resolve:
        _arm(session, incident, TaskKind.PIR, "", now, now)
    deadline = business_days_after(now, policy.pir_review_within_business_days)
    reminder = business_days_after(now, max(policy.pir_review_within_business_days - 2, 1))
    task = _arm(session, incident, TaskKind.PIR_REVIEW, "", reminder, now)
    task.data = {**task.data, "deadline": deadline.isoformat()}
    session.add(task)


def next_review_reminder(task: ScheduledTask, now: datetime) -> datetime:
    """When a review reminder comes again: at the deadline, then every business day."""
    deadline = review_deadline(task)
    if now < deadline:
        return deadline
    return business_days_after(now, 1)


def review_deadline(task: ScheduledTask) -> datetime:
    """The day a review reminder asks the review to be held by."""
    return datetime.fromisoformat(str(task.data.get("deadline") or task.due_at.isoformat()))


def on_review_held(session: Session, incident: Incident, now: datetime) -> None:
    """The review was held: no more reminders to hold it."""
    task_schedule.cancel(
        session=session, incident_id=_id(incident), kinds=(TaskKind.PIR_REVIEW,), now=now
    )


def on_reopened(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Reopened: the update cadence restarts and escalation is armed for the new period."""
    task_schedule.cancel(
        session=session, incident_id=_id(incident), kinds=(TaskKind.PIR_REVIEW,), now=now
    )
    severity = policy.severity(incident.severity)
    due = now + severity.update_interval
    incident.next_update_due_at = due
    session.add(incident)
    schedule_nag(session, incident, due, now)
    _arm_period(session, incident, policy, now)
    _arm(session, incident, TaskKind.STALE, "", now + policy.stale_after, now)
    outward_rules.on_reopened(session, incident, policy, now)


def follow_up(
    session: Session, incident: Incident, task: ScheduledTask, due: datetime, now: datetime
) -> None:
    """Arm the next occurrence of a repeating reminder that has just been sent."""
    if task.kind == TaskKind.NAG:
        schedule_nag(session, incident, due, now)
    else:
        _arm(session, incident, TaskKind(task.kind), task.key, due, now)


def snooze(
    session: Session, incident: Incident, task_id: int, duration: timedelta, now: datetime
) -> datetime:
    """Put off the nag that task `task_id` posted; refuses when it is no longer current."""
    if not incident.is_open:
        raise UserError(f"{incident.reference} is {incident.status}: there is nothing to snooze.")
    task = session.get(ScheduledTask, task_id)
    if task is None or task.incident_id != incident.id or task.kind != TaskKind.NAG:
        raise UserError("That reminder is not valid any more.")
    latest = session.exec(
        select(ScheduledTask)
        .where(ScheduledTask.incident_id == incident.id, ScheduledTask.kind == TaskKind.NAG)
        .order_by(col(ScheduledTask.id).desc())
    ).first()
    if latest is None or latest.id != _next_after(session, incident, task):
        raise UserError("That reminder was already snoozed or answered by an update.")
    due = now + duration
    incident.next_update_due_at = due
    session.add(incident)
    schedule_nag(session, incident, due, now)
    return due


def _next_after(session: Session, incident: Incident, task: ScheduledTask) -> int | None:
    """The id of the nag scheduled right after `task` posted (the one a snooze replaces)."""
    following = session.exec(
        select(ScheduledTask)
        .where(
            ScheduledTask.incident_id == incident.id,
            ScheduledTask.kind == TaskKind.NAG,
            col(ScheduledTask.id) > task.id,
        )
        .order_by(col(ScheduledTask.id))
    ).first()
    return following.id if following is not None and following.state == TaskState.PENDING else None


def pending(session: Session, incident: Incident) -> list[ScheduledTask]:
    """The reminders still to come, soonest first."""
    listed = (*REMINDER_KINDS, TaskKind.PIR_REVIEW, TaskKind.ACTION_OVERDUE)
    return list(
        session.exec(
            select(ScheduledTask)
            .where(
                ScheduledTask.incident_id == incident.id,
                col(ScheduledTask.kind).in_([str(k) for k in listed]),
                ScheduledTask.state == TaskState.PENDING,
            )
            .order_by(col(ScheduledTask.due_at))
        ).all()
    )


def sent_counts(session: Session, incident: Incident) -> dict[str, int]:
    """How many reminders of each kind were posted (every occurrence counts)."""
    rows = session.exec(
        select(TimelineEvent.data).where(
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind == TimelineKind.REMINDER,
        )
    ).all()
    counts: dict[str, int] = {}
    for data in rows:
        kind = str((data or {}).get("kind") or "")
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    return counts
