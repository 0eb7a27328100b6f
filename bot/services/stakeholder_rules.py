"""The stakeholder matrix's updates, kept as task rows.

One row per stakeholder per incident (its key is the stakeholder's name), pending while the
incident is open and its severity is one the stakeholder follows. The first update is due
when the stakeholder starts following the incident (declared, raised to its severity,
reopened); after each delivery the same row is armed again for the next due time at the
stakeholder's cadence. Resolving brings a last update, at once, to the stakeholders that
have heard of the incident, and stops the rest. Called in the incident change's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.comms_policy import Stakeholder
from bot.models import Incident, ScheduledTask, TaskKind, TaskState
from bot.policy import Policy
from bot.services import task_schedule


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


def follows(stakeholder: Stakeholder, severity: str) -> bool:
    """Whether the stakeholder gets updates about incidents of `severity` (and has somewhere
    to get them)."""
    return severity in stakeholder.severities and bool(stakeholder.targets or stakeholder.email)


def stakeholder(policy: Policy, name: str) -> Stakeholder | None:
    """The policy's stakeholder called `name` (None if the policy no longer has it)."""
    return next((s for s in policy.stakeholders if s.name == name), None)


def arm_next(
    session: Session,
    incident: Incident,
    name: str,
    due: datetime,
    now: datetime,
    *,
    if_not_pending: bool = False,
) -> ScheduledTask | None:
    """Arm the stakeholder's update due at `due` (a fresh occurrence of its row); None
    when its row was left as it was (held by a live process; pending, with
    `if_not_pending`)."""
    task = task_schedule.try_arm(
        session=session,
        incident_id=_id(incident),
        kind=TaskKind.STAKEHOLDER,
        key=name,
        due_at=due,
        now=now,
        if_not_pending=if_not_pending,
    )
    if task is not None:
        # The slot keeps the cadence on its grid when a retry moves the row's due time.
        task.data = {**task.data, "slot": due.isoformat()}
        session.add(task)
    return task


def next_due(task: ScheduledTask, every: timedelta, now: datetime) -> datetime:
    """The stakeholder's next due time: on its cadence's grid, after `now` (a bot that was
    down catches up with one update, not one per missed slot)."""
    slot = task.data.get("slot")
    due = datetime.fromisoformat(str(slot)) if slot else task.due_at
    missed = max((now - due) // every, 0)
    return due + every * (missed + 1)


def _start(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Start every stakeholder that follows the incident's severity and is not running."""
    for entry in policy.stakeholders:
        if follows(entry, incident.severity):
            arm_next(session, incident, entry.name, now, now, if_not_pending=True)


def catch_up(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """At start-up: a stakeholder the policy has gained since the incident was declared (or
    its severity last changed) starts following it now, as if it had been there all along."""
    _start(session, incident, policy, now)


def on_declared(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """A new incident: its severity's stakeholders get a first update now."""
    _start(session, incident, policy, now)


def on_severity_change(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """New severity: stakeholders that follow it start now; the others stop."""
    for entry in policy.stakeholders:
        if not follows(entry, incident.severity):
            task_schedule.cancel(
                session=session,
                incident_id=_id(incident),
                kinds=(TaskKind.STAKEHOLDER,),
                key=entry.name,
                now=now,
            )
    _start(session, incident, policy, now)


def has_heard(task: ScheduledTask) -> bool:
    """Whether the stakeholder has had an update about the incident (a digest of what was
    sent is kept from the first one on)."""
    return bool(task.data.get("digest"))


def on_resolved(session: Session, incident: Incident, now: datetime) -> None:
    """Resolved or closed: each stakeholder that has heard of the incident gets a last
    update, now, saying it is resolved; the others none. No more after it."""
    pending = session.exec(
        select(ScheduledTask).where(
            ScheduledTask.incident_id == _id(incident),
            ScheduledTask.kind == TaskKind.STAKEHOLDER,
            ScheduledTask.state == TaskState.PENDING,
        )
    ).all()
    for row in pending:
        if has_heard(row):
            arm_next(session, incident, row.key, now, now)
        else:
            task_schedule.cancel(
                session=session,
                incident_id=_id(incident),
                kinds=(TaskKind.STAKEHOLDER,),
                key=row.key,
                now=now,
            )


def on_reopened(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Reopened: the stakeholders hear of it now and at their cadence again."""
    _start(session, incident, policy, now)
