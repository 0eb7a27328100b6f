"""The incident lifecycle: status, severity, priority, roles, notes, updates, closure.

Every field change goes through `set_field`, which writes the audit log; every change
worth reading later is put on the timeline with its actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.db import insert_or_ignore
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    ImpactPeriod,
    Incident,
    IncidentStatus,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import Policy
from bot.services import reminder_rules

ORDER = [
    IncidentStatus.REPORTED,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
    IncidentStatus.CLOSED,
]
OPEN_STATES = ORDER[:4]
# Words that leave a closure field as good as empty.
PLACEHOLDERS = frozenset({"", "to be investigated", "tbd", "tbc", "unknown", "n/a", "?"})


def _index(status: str) -> int:
    return ORDER.index(IncidentStatus(status))


# -- lookup ---------------------------------------------------------------------------


def by_channel(session: Session, channel_id: str) -> Incident | None:
    """The incident whose channel this is, if any."""
    return session.exec(select(Incident).where(Incident.channel_id == channel_id)).first()


def require_by_channel(session: Session, channel_id: str) -> Incident:
    """The incident of this channel, or a clear refusal."""
    incident = by_channel(session, channel_id)
    if incident is None:
        raise NotFound(
            "This is not an incident channel. Run it in an incident's channel, "
            "or use `/incident list` to find one."
        )
    return incident


def list_open(session: Session) -> list[Incident]:
    """Open incidents, most severe and oldest first."""
    return list(
        session.exec(
            select(Incident)
            .where(col(Incident.status).in_([str(s) for s in OPEN_STATES]))
            .order_by(col(Incident.severity), col(Incident.declared_at))
        ).all()
    )


# -- recording ------------------------------------------------------------------------


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def set_field(
    session: Session,
    incident: Incident,
    field: str,
    value: Any,
    *,
    actor: str | None,
    now: datetime,
) -> bool:
    """Change one field and write the audit entry; False when the value is unchanged."""
    old = getattr(incident, field)
    if old == value:
        return False
    setattr(incident, field, value)
    incident.updated_at = now
    session.add(incident)
    assert incident.id is not None
    session.add(
        AuditEntry(
            incident_id=incident.id,
            at=now,
            actor_id=actor,
            field=field,
            old_value=_text(old),
            new_value=_text(value),
        )
    )
    return True


def record(
    session: Session,
    incident_id: int,
    kind: str,
    *,
    now: datetime,
    actor: str | None = None,
    text: str = "",
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    channel_id: str | None = None,
    slack_ts: str | None = None,
    thread_ts: str | None = None,
) -> bool:
    """Put an entry on the timeline; with a dedupe key it lands at most once (False if not)."""
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "kind": str(kind),
        "occurred_at": now,
        "actor_id": actor,
        "text": text,
        "data": data or {},
        "dedupe_key": dedupe_key,
        "channel_id": channel_id,
        "slack_ts": slack_ts,
        "thread_ts": thread_ts,
        "is_key_event": False,
    }
    if dedupe_key is None:
        session.add(TimelineEvent(**values))
        return True
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement = insert_or_ignore(table, tuple(values), "dedupe_key", dialect)
    return session.execute(statement, values).scalar() is not None


def record_bot_post(
    session: Session,
    incident_id: int,
    *,
    channel_id: str,
    ts: str,
    text: str,
    bot_user_id: str,
    now: datetime,
    kind: str,
    thread_ts: str | None = None,
) -> None:
    """Put one of the bot's own messages on the timeline (once, under its message key)."""
    record(
        session,
        incident_id,
        TimelineKind.BOT_POST,
        now=now,
        actor=bot_user_id,
        text=text,
        dedupe_key=message_key(channel_id, ts),
        channel_id=channel_id,
        slack_ts=ts,
        thread_ts=thread_ts,
        data={"kind": kind},
    )


def message_key(channel_id: str, ts: str) -> str:
    """The dedupe key of a Slack message's timeline row."""
    return f"msg:{channel_id}:{ts}"


# -- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A field that moved from one value to another."""

    old: str
    new: str


def _stamp(session: Session, incident: Incident, field: str, actor: str, now: datetime) -> None:
    if getattr(incident, field) is None:
        set_field(session, incident, field, now, actor=actor, now=now)


def _stamp_up_to(
    session: Session, incident: Incident, target: IncidentStatus, actor: str, now: datetime
) -> None:
    """Stamp every milestone reached or skipped on the way to `target`."""
    index = ORDER.index(target)
    if index >= ORDER.index(IncidentStatus.INVESTIGATING):
        _stamp(session, incident, "acknowledged_at", actor, now)
    if index >= ORDER.index(IncidentStatus.IDENTIFIED):
        _stamp(session, incident, "identified_at", actor, now)
    if index >= ORDER.index(IncidentStatus.MONITORING):
        _stamp(session, incident, "mitigated_at", actor, now)


def parse_status(word: str) -> IncidentStatus:
    """A lifecycle state from what a person typed."""
    cleaned = word.strip().lower()
    for status in ORDER:
        if cleaned == status.value:
            return status
    names = ", ".join(s.value for s in ORDER)
    raise UserError(f"`{word[:40]}` is not a status. Use one of: {names}.")


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
    set_field(session, incident, "status", target.value, actor=actor, now=now)
    reminder_rules.on_acknowledged(session, incident, now)
    assert incident.id is not None
    record(
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
    set_field(session, incident, "resolution", resolution.strip(), actor=actor, now=now)
    set_field(session, incident, "root_cause", root_cause.strip(), actor=actor, now=now)
    if impact.strip():
        set_field(session, incident, "impact_summary", impact.strip(), actor=actor, now=now)
    set_field(session, incident, "resolved_at", now, actor=actor, now=now)
    set_field(session, incident, "status", IncidentStatus.RESOLVED.value, actor=actor, now=now)
    period = current_period(session, incident)
    if period is not None and period.ended_at is None:
        period.ended_at = now
        session.add(period)
    reminder_rules.on_resolved(session, incident, now)
    reminder_rules.on_resolved_review(session, incident, policy, now)
    assert incident.id is not None
    record(
        session,
        incident.id,
        TimelineKind.RESOLVED,
        now=now,
        actor=actor,
        text=f"Resolved: {resolution.strip()}",
        data={"resolution": resolution.strip(), "root_cause": root_cause.strip()},
    )
    return Change(current.value, IncidentStatus.RESOLVED.value)


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


def close(
    session: Session, incident: Incident, *, actor: str, now: datetime, policy: Policy
) -> None:
    """Close a resolved incident whose required fields are filled."""
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
    set_field(session, incident, "closed_at", now, actor=actor, now=now)
    set_field(session, incident, "status", IncidentStatus.CLOSED.value, actor=actor, now=now)
    reminder_rules.on_resolved(session, incident, now)
    assert incident.id is not None
    record(session, incident.id, TimelineKind.CLOSED, now=now, actor=actor, text="Closed")


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
    set_field(session, incident, "resolution", resolution.strip(), actor=actor, now=now)
    set_field(session, incident, "root_cause", root_cause.strip(), actor=actor, now=now)
    set_field(session, incident, "impact_summary", impact.strip(), actor=actor, now=now)


def reopen(
    session: Session, incident: Incident, *, actor: str, now: datetime, policy: Policy
) -> Change:
    """Back to investigating; the timeline stays and a new impact period starts."""
    current = IncidentStatus(incident.status)
    if current not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        raise UserError(
            f"{incident.reference} is {current.value}, not resolved: nothing to reopen."
        )
    set_field(session, incident, "resolved_at", None, actor=actor, now=now)
    set_field(session, incident, "closed_at", None, actor=actor, now=now)
    set_field(session, incident, "status", IncidentStatus.INVESTIGATING.value, actor=actor, now=now)
    assert incident.id is not None
    last = current_period(session, incident)
    session.add(
        ImpactPeriod(
            incident_id=incident.id, ordinal=(last.ordinal + 1) if last else 1, started_at=now
        )
    )
    session.flush()
    reminder_rules.on_reopened(session, incident, policy, now)
    record(
        session,
        incident.id,
        TimelineKind.REOPENED,
        now=now,
        actor=actor,
        text=f"Reopened (was {current.value}); a new impact period starts",
        data={"old": current.value},
    )
    return Change(current.value, IncidentStatus.INVESTIGATING.value)


def start_first_period(session: Session, incident: Incident) -> None:
    """Open the first impact period when an incident is declared."""
    assert incident.id is not None and incident.impact_started_at is not None
    session.add(
        ImpactPeriod(incident_id=incident.id, ordinal=1, started_at=incident.impact_started_at)
    )


def current_period(session: Session, incident: Incident) -> ImpactPeriod | None:
    """The latest impact period."""
    return session.exec(
        select(ImpactPeriod)
        .where(ImpactPeriod.incident_id == incident.id)
        .order_by(col(ImpactPeriod.ordinal).desc())
    ).first()


def periods(session: Session, incident: Incident) -> list[ImpactPeriod]:
    """Every impact period, in order."""
    return list(
        session.exec(
            select(ImpactPeriod)
            .where(ImpactPeriod.incident_id == incident.id)
            .order_by(col(ImpactPeriod.ordinal))
        ).all()
    )


def set_impact_start(
    session: Session, incident: Incident, when: datetime, *, actor: str, now: datetime
) -> None:
    """Set when the impact started (it may be before the declaration, never in the future)."""
    if when > now:
        raise UserError("The impact cannot start in the future.")
    set_field(session, incident, "impact_started_at", when, actor=actor, now=now)
    first = session.exec(
        select(ImpactPeriod).where(
            ImpactPeriod.incident_id == incident.id, ImpactPeriod.ordinal == 1
        )
    ).first()
    if first is not None:
        first.started_at = when
        session.add(first)
    assert incident.id is not None
    record(
        session,
        incident.id,
        TimelineKind.IMPACT_STARTED,
        now=now,
        actor=actor,
        text=f"Impact start set to {when.isoformat()}",
        data={"started_at": when.isoformat()},
    )


# -- severity and priority ------------------------------------------------------------


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
    raise UserError(f"`{word[:40]}` is not a severity. Use one of: {labels}.")


def change_severity(
    session: Session, incident: Incident, key: str, *, actor: str, now: datetime, policy: Policy
) -> Change:
    """Change the severity."""
    if key == incident.severity:
        raise UserError(f"{incident.reference} is already {policy.severity(key).label}.")
    old = incident.severity
    set_field(session, incident, "severity", key, actor=actor, now=now)
    if incident.is_open:
        reminder_rules.on_severity_change(session, incident, policy, now)
    assert incident.id is not None
    old_label, new_label = policy.severity(old).label, policy.severity(key).label
    record(
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
    set_field(session, incident, "priority", priority, actor=actor, now=now)
    if impact is not None:
        set_field(session, incident, "impact", impact, actor=actor, now=now)
    if urgency is not None:
        set_field(session, incident, "urgency", urgency, actor=actor, now=now)
    assert incident.id is not None
    record(
        session,
        incident.id,
        TimelineKind.PRIORITY_CHANGED,
        now=now,
        actor=actor,
        text=f"Priority {old} → {priority}",
        data={"old": old, "new": priority, "impact": impact, "urgency": urgency},
    )
    return Change(old, priority)


# -- roles ----------------------------------------------------------------------------


def role_aliases(policy: Policy) -> dict[str, str]:
    """Every way of naming a role, mapped to its key."""
    aliases: dict[str, str] = {}
    for key, role in policy.roles.items():
        words = role.name.lower().split()
        for alias in (
            key,
            key.replace("_", "-"),
            key.replace("_", ""),
            role.name.lower(),
            "-".join(words),
            "".join(words),
            "".join(word[0] for word in words),
            *(alias.lower() for alias in role.aliases),
        ):
            aliases.setdefault(alias, key)
    return aliases


def parse_role(word: str, policy: Policy) -> str:
    """A role key from what a person typed."""
    key = role_aliases(policy).get(word.strip().lower())
    if key is None:
        names = ", ".join(f"`{k.replace('_', '-')}`" for k in policy.roles)
        raise UserError(f"`{word[:40]}` is not a role. Use one of: {names}.")
    return key


def holder(session: Session, incident: Incident, role: str) -> RoleAssignment | None:
    """Who holds a role now."""
    return session.exec(
        select(RoleAssignment).where(
            RoleAssignment.incident_id == incident.id,
            RoleAssignment.role == role,
            col(RoleAssignment.ended_at).is_(None),
        )
    ).first()


def holders(session: Session, incident: Incident) -> dict[str, str]:
    """Role key → user ID for the roles held now."""
    rows = session.exec(
        select(RoleAssignment).where(
            RoleAssignment.incident_id == incident.id, col(RoleAssignment.ended_at).is_(None)
        )
    ).all()
    return {row.role: row.user_id for row in rows}


def assign_role(
    session: Session,
    incident: Incident,
    role: str,
    user_id: str,
    *,
    actor: str,
    now: datetime,
    policy: Policy,
    handoff: dict[str, str] | None = None,
) -> str | None:
    """Give a role to someone; returns the previous holder on a handoff."""
    current = holder(session, incident, role)
    if current is not None and current.user_id == user_id:
        raise UserError(f"<@{user_id}> is already the {policy.role_name(role)}.")
    previous = None
    if current is not None:
        previous = current.user_id
        current.ended_at = now
        session.add(current)
    assert incident.id is not None
    session.add(
        RoleAssignment(
            incident_id=incident.id, role=role, user_id=user_id, assigned_by=actor, assigned_at=now
        )
    )
    if role == "commander":
        set_field(session, incident, "commander_id", user_id, actor=actor, now=now)
        if incident.status == IncidentStatus.REPORTED:
            # A commander taking the incident is its acknowledgement.
            _stamp(session, incident, "acknowledged_at", actor, now)
        reminder_rules.on_acknowledged(session, incident, now)
    name = policy.role_name(role)
    record(
        session,
        incident.id,
        TimelineKind.ROLE_ASSIGNED,
        now=now,
        actor=actor,
        text=f"{name}: {user_id}" + (f" (was {previous})" if previous else ""),
        data={"role": role, "user": user_id, "previous": previous},
    )
    if previous is not None:
        note = handoff or {}
        record(
            session,
            incident.id,
            TimelineKind.HANDOFF,
            now=now,
            actor=actor,
            text=f"{name} handoff from {previous} to {user_id}",
            data={"role": role, "from": previous, "to": user_id, **note},
        )
    return previous


# -- notes and updates ----------------------------------------------------------------


def add_note(session: Session, incident: Incident, text: str, *, actor: str, now: datetime) -> None:
    """Put a note on the timeline."""
    if not text.strip():
        raise UserError("Write the note after the command: `/incident note <text>`.")
    assert incident.id is not None
    record(session, incident.id, TimelineKind.NOTE, now=now, actor=actor, text=text.strip())


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
) -> tuple[StatusUpdate, Change | None]:
    """Record a status update; it may move the status and it resets the update clock."""
    change = None
    if data.status != incident.status:
        if data.status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
            raise UserError("Use `/incident resolve` or `/incident close` to end an incident.")
        change = change_status(session, incident, data.status, actor=actor, now=now)
    if data.next_update_at <= now:
        raise UserError("The next update must be due in the future.")
    if data.impact.strip():
        set_field(session, incident, "impact_summary", data.impact.strip(), actor=actor, now=now)
    set_field(session, incident, "last_update_at", now, actor=actor, now=now)
    set_field(session, incident, "next_update_due_at", data.next_update_at, actor=actor, now=now)
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
    record(
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
