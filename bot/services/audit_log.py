"""The audit log: every change to an incident's fields, with who, when, old and new."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.models import AuditEntry, Incident


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
