"""Incident roles: who holds which, and handing them over."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.errors import UserError
from bot.models import Incident, IncidentStatus, RoleAssignment, TimelineKind
from bot.policy import Policy
from bot.render import clip
from bot.services import audit_log, incident_lifecycle, reminder_rules, timeline_entries


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
        raise UserError(f"`{clip(word, 40)}` is not a role. Use one of: {names}.")
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
    acknowledge: bool = True,
) -> str | None:
    """Give a role to someone; returns the previous holder on a handoff.

    A commander who takes the incident acknowledges it; one named in advance (by an alert
    rule, `acknowledge=False`) has not yet, so the response target still counts.
    """
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
        audit_log.set_field(session, incident, "commander_id", user_id, actor=actor, now=now)
    if role == "commander" and acknowledge:
        if incident.status == IncidentStatus.REPORTED:
            # A commander taking the incident is its acknowledgement.
            incident_lifecycle._stamp(session, incident, "acknowledged_at", actor, now)
        reminder_rules.on_acknowledged(session, incident, now)
    name = policy.role_name(role)
    timeline_entries.record(
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
        timeline_entries.record(
            session,
            incident.id,
            TimelineKind.HANDOFF,
            now=now,
            actor=actor,
            text=f"{name} handoff from {previous} to {user_id}",
            data={"role": role, "from": previous, "to": user_id, **note},
        )
    return previous
