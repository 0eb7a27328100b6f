"""Email and pages an incident's changes owe, armed as task rows (`TaskKind.EMAIL`, `PAGE`).

Called in the transaction of the change (through `outward_rules`); no Slack, no network.
Every row has a key of its own per impact period (`p1:declared:sev1`, `p1:trigger:sev1`,
`p1:step:sev1:0`, `p1:acknowledge`, `p1:resolve`, `p1:resolved`), armed once, so nothing
is sent twice whatever calls in again. An escalation step's email and page are rows of
their own, due when the step is (as its Slack ping is): a page never waits for Slack.

An EMAIL row's data: `to` (addresses), `targets` (contact names or Slack user/group IDs,
resolved to addresses when it is sent), and either `subject`, `text` and `html` sent as
they are, or a `template` (`declared`, `reopened`, `escalation`, `resolved`) rendered from
the incident as it is then. A PAGE row's data: `action` (trigger, acknowledge, resolve).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.models import Incident, ScheduledTask, TaskKind, TaskState
from bot.policy import Policy
from bot.services import impact_periods, task_schedule
from bot.slack import targets as slack_targets

# Emails whose recipients hear that the incident is resolved.
ANNOUNCED = ("declared", "reopened", "escalation")


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


def _arm(
    session: Session,
    incident: Incident,
    kind: TaskKind,
    key: str,
    data: dict[str, Any],
    now: datetime,
    due: datetime | None = None,
) -> bool:
    """Arm one email or page, due now (or at `due`), once; False when it was left as it was
    (sent already, or being sent right now by a live process)."""
    task = task_schedule.try_arm(
        session=session,
        incident_id=_id(incident),
        kind=kind,
        key=key,
        due_at=due or now,
        now=now,
        once=True,
    )
    if task is None:
        return False
    task.data = {**task.data, **data}
    session.add(task)
    return True


def email_targets(policy: Policy, names: list[str]) -> list[str]:
    """The notify names that may have an email address: an address in the policy, or a
    Slack person or user group (through a contact name, or named by ID)."""
    found = []
    for name in names:
        target = slack_targets.contact(policy.contacts, name)
        if name in policy.email.addresses or (
            target is not None
            and (
                target in policy.email.addresses
                or slack_targets.kind(target) in ("person", "group")
            )
        ):
            found.append(name)
    return list(dict.fromkeys(found))


def _rows(session: Session, incident_id: int, kind: TaskKind, prefix: str) -> list[ScheduledTask]:
    """The incident's rows of `kind` whose key starts with `prefix`, not cancelled."""
    return list(
        session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident_id,
                ScheduledTask.kind == kind,
                col(ScheduledTask.key).startswith(prefix),
                ScheduledTask.state != TaskState.CANCELLED,
            )
        ).all()
    )


def _announce(
    session: Session, incident: Incident, policy: Policy, now: datetime, template: str
) -> None:
    """Email and page as the incident's severity says, as for a new incident."""
    severity = incident.severity
    channels = policy.channels(severity)
    period, _ = impact_periods.ordinal_and_start(session, incident)
    if "email" in channels:
        targets = email_targets(policy, policy.severity(severity).notify)
        if targets:
            data = {"template": template, "targets": targets, "to": [], "severity": severity}
            _arm(session, incident, TaskKind.EMAIL, f"p{period}:declared:{severity}", data, now)
    if "page" in channels and policy.paging.key() is not None:
        data = {"action": "trigger", "what": "trigger", "severity": severity}
        _arm(session, incident, TaskKind.PAGE, f"p{period}:trigger:{severity}", data, now)


def _arm_steps(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """The current severity's escalation steps: an email to each step's targets when the
    severity is notified by email, a page for a step that says `page: true`; each due
    when the step is, once per impact period."""
    severity = incident.severity
    channels = policy.channels(severity)
    period, start = impact_periods.ordinal_and_start(session, incident)
    paging = policy.paging.key() is not None
    for index, step in enumerate(policy.severity(severity).escalation):
        key = f"p{period}:step:{severity}:{index}"
        due = start + step.after
        targets = email_targets(policy, step.notify)
        if "email" in channels and targets:
            data = {
                "template": "escalation",
                "targets": targets,
                "to": [],
                "severity": severity,
                "after": int(step.after.total_seconds()),
            }
            _arm(session, incident, TaskKind.EMAIL, key, data, now, due)
        if step.page and paging:
            data = {"action": "trigger", "what": "trigger", "severity": severity, "step": index}
            _arm(session, incident, TaskKind.PAGE, key, data, now, due)


def _cancel_steps(session: Session, incident: Incident, now: datetime) -> None:
    """Steps' emails and pages not due yet: the incident is resolved or changed severity.
    (One due already, or retrying, goes on: it tells of something that happened.)"""
    task_schedule.cancel(
        session=session,
        incident_id=_id(incident),
        kinds=(TaskKind.EMAIL, TaskKind.PAGE),
        key_like="p%:step:%",
        not_fired=True,
        now=now,
    )


def on_declared(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """A new incident: email the severity's notify list and page, as its channels say;
    the escalation steps' emails and pages are armed for when they are due."""
    _announce(session, incident, policy, now, "declared")
    _arm_steps(session, incident, policy, now)


def _fired(row: ScheduledTask, now: datetime) -> bool:
    """Whether a row is on its way: due, or tried already (and due again after a back-off)."""
    return row.state == TaskState.PENDING and (row.due_at <= now or row.attempts > 0)


def _triggered(session: Session, incident: Incident, period: int, now: datetime) -> bool:
    """Whether a page was triggered in this impact period (or is on its way)."""
    return any(
        row.state == TaskState.DONE or _fired(row, now)
        for prefix in (f"p{period}:trigger:", f"p{period}:step:")
        for row in _rows(session, _id(incident), TaskKind.PAGE, prefix)
    )


def on_acknowledged(session: Session, incident: Incident, now: datetime) -> None:
    """Someone took the incident: the page of this period is acknowledged."""
    period, _ = impact_periods.ordinal_and_start(session, incident)
    if _triggered(session, incident, period, now):
        data = {"action": "acknowledge", "what": "acknowledge"}
        _arm(session, incident, TaskKind.PAGE, f"p{period}:acknowledge", data, now)


def on_severity_change(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Raised above every severity emailed (or paged) about in this period: email and page
    as if declared at the new severity (once per severity and period). The escalation
    steps' emails and pages become the new severity's."""
    period, _ = impact_periods.ordinal_and_start(session, incident)
    new = policy.rank(incident.severity)

    def raised(kind: TaskKind, prefix: str) -> bool:
        done = [row.key.rsplit(":", 1)[-1] for row in _rows(session, _id(incident), kind, prefix)]
        return all(new < policy.rank(severity) for severity in done)

    severity = incident.severity
    channels = policy.channels(severity)
    if "email" in channels and raised(TaskKind.EMAIL, f"p{period}:declared:"):
        targets = email_targets(policy, policy.severity(severity).notify)
        if targets:
            data = {"template": "declared", "targets": targets, "to": [], "severity": severity}
            _arm(session, incident, TaskKind.EMAIL, f"p{period}:declared:{severity}", data, now)
    if (
        "page" in channels
        and policy.paging.key() is not None
        and raised(TaskKind.PAGE, f"p{period}:trigger:")
    ):
        data = {"action": "trigger", "what": "trigger", "severity": severity}
        _arm(session, incident, TaskKind.PAGE, f"p{period}:trigger:{severity}", data, now)
    _cancel_steps(session, incident, now)
    _arm_steps(session, incident, policy, now)


def on_resolved(session: Session, incident: Incident, now: datetime) -> None:
    """Resolved (or closed): steps not due yet are off, the page is resolved, and everyone
    emailed about the incident in this period hears that it is over."""
    period, _ = impact_periods.ordinal_and_start(session, incident)
    triggered = _triggered(session, incident, period, now)
    _cancel_steps(session, incident, now)
    if triggered:
        page = {"action": "resolve", "what": "resolve"}
        _arm(session, incident, TaskKind.PAGE, f"p{period}:resolve", page, now)
    targets: list[str] = []
    to: list[str] = []
    for row in _rows(session, _id(incident), TaskKind.EMAIL, f"p{period}:"):
        if row.data.get("template") in ANNOUNCED and row.state != TaskState.DEAD:
            targets.extend(str(t) for t in row.data.get("targets") or [])
            to.extend(str(a) for a in row.data.get("to") or [])
    if targets or to:
        email: dict[str, Any] = {
            "template": "resolved",
            "targets": list(dict.fromkeys(targets)),
            "to": list(dict.fromkeys(to)),
        }
        _arm(session, incident, TaskKind.EMAIL, f"p{period}:resolved", email, now)


def on_reopened(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Reopened: a new impact period, emailed, paged and escalated as a new incident."""
    _announce(session, incident, policy, now, "reopened")
    _arm_steps(session, incident, policy, now)


def waiting_for(session: Session, task: ScheduledTask, now: datetime) -> datetime | None:
    """When a follow-up (an acknowledge or resolve page, a "resolved" email) may go: not
    before what it follows, already due, has been sent or given up on. None: now."""
    period = impact_periods.period_of(task)
    if task.kind == TaskKind.PAGE and task.data.get("action") in ("acknowledge", "resolve"):
        kind, prefixes = TaskKind.PAGE, (f"{period}:trigger:", f"{period}:step:")
    elif task.kind == TaskKind.EMAIL and task.data.get("template") == "resolved":
        kind, prefixes = TaskKind.EMAIL, (f"{period}:declared:", f"{period}:step:")
    else:
        return None
    due = [
        row.due_at
        for prefix in prefixes
        for row in _rows(session, task.incident_id, kind, prefix)
        if _fired(row, now)
    ]
    return max(due) if due else None


def escalated_before(session: Session, task: ScheduledTask) -> set[str]:
    """Addresses an earlier escalation email of the same impact period reached (a later
    step naming the same people does not tell them twice, as in Slack)."""
    period = impact_periods.period_of(task)
    return {
        str(address)
        for row in _rows(session, task.incident_id, TaskKind.EMAIL, f"{period}:step:")
        if row.id != task.id and row.state == TaskState.DONE
        for address in row.data.get("sent_to") or []
    }
