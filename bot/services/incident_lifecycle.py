"""The incident lifecycle: status, resolution, closure, reopening, severity, priority.

Every field change goes through `audit_log.set_field`; every change worth reading later is
put on the timeline with its actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from bot.errors import UserError
from bot.models import (
    AlertSilence,
    ImpactPeriod,
    Incident,
    IncidentStatus,
    SilenceState,
    TaskKind,
    TimelineKind,
)
from bot.models.incident import STATUS_ORDER
from bot.policy import Policy
from bot.render import clip
from bot.services import (
    audit_log,
    impact_periods,
    reminder_rules,
    task_schedule,
    timeline_entries,
)

PLACEHOLDERS = frozenset({"", "to be investigated", "tbd", "tbc", "unknown", "n/a", "?"})


@dataclass(frozen=True)
class Change:
    """A field that moved from one value to another."""

    old: str
    new: str


def _stamp(session: Session, incident: Incident, field: str, actor: str, now: datetime) -> None:
    if getattr(incident, field) is None:
        audit_log.set_field(session, incident, field, now, actor=actor, now=now)


def _stamp_up_to(
    session: Session, incident: Incident, target: IncidentStatus, actor: str, now: datetime
) -> None:
    """Stamp every milestone reached or skipped on the way to `target`."""
    index = STATUS_ORDER.index(target)
    if index >= STATUS_ORDER.index(IncidentStatus.INVESTIGATING):
        _stamp(session, incident, "acknowledged_at", actor, now)
    if index >= STATUS_ORDER.index(IncidentStatus.IDENTIFIED):
        _stamp(session, incident, "identified_at", actor, now)
    if index >= STATUS_ORDER.index(IncidentStatus.MONITORING):
        _stamp(session, incident, "mitigated_at", actor, now)


def parse_status(word: str) -> IncidentStatus:
    """A lifecycle state from what a person typed."""
    cleaned = word.strip().lower()
    for status in STATUS_ORDER:
        if cleaned == status.value:
            return status
    names = ", ".join(s.value for s in STATUS_ORDER)
    raise UserError(f"`{clip(word, 40)}` is not a status. Use one of: {names}.")


def change_status(
    session: Session, incident: Incident, target: IncidentStatus, *, actor: str, now: datetime
) -> Change:
    """Move an open incident to another open state (resolve, close, reopen have their own)."""
    current = IncidentStatus(incident.status)
    if target == current:
        raise UserError(f"{incident.reference} is already {current.value}.")
    if target == IncidentStatus.REPORTED:
        raise UserError("An incident cannot go back to reported.")
    if current in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        raise UserError(
            f"{incident.reference} is {current.value}: use `/incident reopen` to work on it again."
        )
    if target in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        word = "resolve" if target == IncidentStatus.RESOLVED else "close"
        raise UserError(f"Use `/incident {word}`.")
    _stamp_up_to(session, incident, target, actor, now)
    audit_log.set_field(session, incident, "status", target.value, actor=actor, now=now)
    reminder_rules.on_acknowledged(session, incident, now)
    assert incident.id is not None
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.STATUS_CHANGED,
        now=now,
        actor=actor,
        text=f"Status {current.value} → {target.value}",
        data={"old": current.value, "new": target.value},
    )
    return Change(current.value, target.value)


def resolve(
    session: Session,
    incident: Incident,
    *,
    resolution: str,
    root_cause: str,
    impact: str,
    actor: str,
    now: datetime,
    policy: Policy,
) -> Change:
    """Resolve: stamp what was skipped, close the impact period, keep what was learned."""
    current = IncidentStatus(incident.status)
    if current in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        raise UserError(f"{incident.reference} is already {current.value}.")
    _stamp_up_to(session, incident, IncidentStatus.MONITORING, actor, now)
    update_resolution(
        session,
        incident,
        resolution=resolution,
        root_cause=root_cause,
        impact=impact if impact.strip() else incident.impact_summary,  # blank: kept as it was
        actor=actor,
        now=now,
    )
    audit_log.set_field(session, incident, "resolved_at", now, actor=actor, now=now)
    audit_log.set_field(
        session, incident, "status", IncidentStatus.RESOLVED.value, actor=actor, now=now
    )
    period = impact_periods.current_period(session, incident)
    if period is not None and period.ended_at is None:
        period.ended_at = now
        session.add(period)
    reminder_rules.on_resolved(session, incident, now)
    reminder_rules.on_resolved_review(session, incident, policy, now)
    assert incident.id is not None
    active_silence = session.exec(
        select(AlertSilence.id).where(
            AlertSilence.incident_id == incident.id, AlertSilence.state == SilenceState.ACTIVE
        )
    ).first()
    if active_silence is not None:
        # The silences made for it end with it (`alert_silences.run_expire`).
        task_schedule.arm(
            session=session,
            incident_id=incident.id,
            kind=TaskKind.SILENCE_EXPIRE,
            due_at=now,
            now=now,
        )
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.RESOLVED,
        now=now,
        actor=actor,
        text=f"Resolved: {resolution.strip()}",
        data={"resolution": resolution.strip(), "root_cause": root_cause.strip()},
    )
    return Change(current.value, IncidentStatus.RESOLVED.value)


def update_resolution(
    session: Session,
    incident: Incident,
    *,
    resolution: str,
    root_cause: str,
    impact: str,
    actor: str,
    now: datetime,
) -> None:
    """Fill in resolution, root cause and impact on a resolved incident."""
    audit_log.set_field(session, incident, "resolution", resolution.strip(), actor=actor, now=now)
    audit_log.set_field(session, incident, "root_cause", root_cause.strip(), actor=actor, now=now)
    audit_log.set_field(session, incident, "impact_summary", impact.strip(), actor=actor, now=now)


def reopen(
    session: Session, incident: Incident, *, actor: str, now: datetime, policy: Policy
) -> Change:
    """Back to investigating; the timeline stays and a new impact period starts."""
    current = IncidentStatus(incident.status)
    if current not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        raise UserError(
            f"{incident.reference} is {current.value}, not resolved: nothing to reopen."
        )
    audit_log.set_field(session, incident, "resolved_at", None, actor=actor, now=now)
    audit_log.set_field(session, incident, "closed_at", None, actor=actor, now=now)
    audit_log.set_field(
        session, incident, "status", IncidentStatus.INVESTIGATING.value, actor=actor, now=now
    )
    assert incident.id is not None
    last = impact_periods.current_period(session, incident)
    session.add(
        ImpactPeriod(
            incident_id=incident.id, ordinal=(last.ordinal + 1) if last else 1, started_at=now
        )
    )
    session.flush()
    reminder_rules.on_reopened(session, incident, policy, now)
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.REOPENED,
        now=now,
        actor=actor,
        text=f"Reopened (was {current.value}); a new impact period starts",
        data={"old": current.value},
    )
    return Change(current.value, IncidentStatus.INVESTIGATING.value)


def set_impact_start(
    session: Session, incident: Incident, when: datetime, *, actor: str, now: datetime
) -> None:
    """Set when the impact started (it may be before the declaration, never in the future)."""
    if when > now:
        raise UserError("The impact cannot start in the future.")
    audit_log.set_field(session, incident, "impact_started_at", when, actor=actor, now=now)
    first = session.exec(
        select(ImpactPeriod).where(
            ImpactPeriod.incident_id == incident.id, ImpactPeriod.ordinal == 1
        )
    ).first()
    if first is not None:
        first.started_at = when
        session.add(first)
    assert incident.id is not None
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.IMPACT_STARTED,
        now=now,
        actor=actor,
        text=f"Impact start set to {when.isoformat()}",
        data={"started_at": when.isoformat()},
    )


def parse_severity(word: str, policy: Policy) -> str:
    """A severity key from `sev1`, `Sev1`, `1` or a label."""
    cleaned = word.strip().lower().replace(" ", "")
    for key, severity in policy.severities.items():
        if cleaned in (key, severity.label.lower().replace(" ", "")):
            return key
        if (
            cleaned.isdigit()
            and key.endswith(cleaned)
            and key.rstrip("0123456789") + cleaned == key
        ):
            return key
    labels = ", ".join(s.label for s in policy.severities.values())
    raise UserError(f"`{clip(word, 40)}` is not a severity. Use one of: {labels}.")


def change_severity(
    session: Session, incident: Incident, key: str, *, actor: str, now: datetime, policy: Policy
) -> Change:
    """Change the severity."""
    if key == incident.severity:
        raise UserError(f"{incident.reference} is already {policy.severity(key).label}.")
    old = incident.severity
    audit_log.set_field(session, incident, "severity", key, actor=actor, now=now)
    if incident.is_open:
        reminder_rules.on_severity_change(session, incident, policy, now)
    assert incident.id is not None
    old_label, new_label = policy.severity(old).label, policy.severity(key).label
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.SEVERITY_CHANGED,
        now=now,
        actor=actor,
        text=f"Severity {old_label} → {new_label}",
        data={"old": old, "new": key},
    )
    return Change(old_label, new_label)


def parse_priority(args: str, policy: Policy) -> tuple[str, str | None, str | None]:
    """`P2`, or an impact and an urgency (`high low`): (priority, impact, urgency)."""
    words = args.lower().replace("/", " ").replace(",", " ").split()
    if len(words) == 1 and words[0].upper() in ("P1", "P2", "P3", "P4"):
        return words[0].upper(), None, None
    levels = ("high", "medium", "low")
    if len(words) == 2 and all(word in levels for word in words):
        return policy.priority(words[0], words[1]), words[0], words[1]
    raise UserError(
        "Give a priority (`P1` to `P4`) or an impact and an urgency, each high, medium or low "
        "(`/incident priority high medium`)."
    )


def change_priority(
    session: Session,
    incident: Incident,
    priority: str,
    *,
    impact: str | None,
    urgency: str | None,
    actor: str,
    now: datetime,
) -> Change:
    """Change the priority (and the impact and urgency behind it, when given)."""
    if (
        priority == incident.priority
        and impact in (None, incident.impact)
        and urgency
        in (
            None,
            incident.urgency,
        )
    ):
        raise UserError(f"{incident.reference} is already {priority}.")
    old = incident.priority
    audit_log.set_field(session, incident, "priority", priority, actor=actor, now=now)
    if impact is not None:
        audit_log.set_field(session, incident, "impact", impact, actor=actor, now=now)
    if urgency is not None:
        audit_log.set_field(session, incident, "urgency", urgency, actor=actor, now=now)
    assert incident.id is not None
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.PRIORITY_CHANGED,
        now=now,
        actor=actor,
        text=f"Priority {old} → {priority}",
        data={"old": old, "new": priority, "impact": impact, "urgency": urgency},
    )
    return Change(old, priority)


def mark_review_held(session: Session, incident: Incident, *, actor: str, now: datetime) -> None:
    """Record that the post-incident review took place (only once resolved)."""
    if incident.is_open:
        raise UserError(f"{incident.reference} is {incident.status}: resolve it before its review.")
    if incident.review_held_at is not None:
        raise UserError(f"The review of {incident.reference} is already marked as held.")
    audit_log.set_field(session, incident, "review_held_at", now, actor=actor, now=now)
    reminder_rules.on_review_held(session, incident, now)
    assert incident.id is not None
    timeline_entries.record(
        session, incident.id, TimelineKind.REVIEW_HELD, now=now, actor=actor, text="Review held"
    )
