"""Declaring an incident: validation, the record, and its first timeline entry."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session

from bot.errors import InvalidInput
from bot.models import Incident, IncidentStatus, TaskKind, TimelineEvent, TimelineKind
from bot.models.incident import TITLE_MAX, IncidentBase
from bot.policy import Policy
from bot.services import impact_periods, reminder_rules, task_schedule
from bot.services.references import next_reference

_FIELD_MESSAGES = {
    "string_too_long": "is too long: at most {max_length} characters (you gave {length})",
    "string_too_short": "cannot be blank",
    "string_unicode": "holds characters that cannot be stored: retype it without them",
    "string_type": "must be text",
}


class DeclareInput(IncidentBase):
    """Validated input for a new incident."""


def validate_declaration(raw: dict[str, object], policy: Policy) -> DeclareInput:
    """Check a declaration against the field rules and the policy.

    Raises InvalidInput keyed by field name, with messages meant for the reporter.
    """
    errors: dict[str, str] = {}
    data: DeclareInput | None = None
    try:
        data = DeclareInput.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "title"
            template = _FIELD_MESSAGES.get(error["type"])
            if template is not None:
                value = raw.get(field)
                length = len(value) if isinstance(value, str) else 0
                ctx = dict(error.get("ctx") or {})
                message = template.format(length=length, max_length=ctx.get("max_length", ""))
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
            errors.setdefault(field, f"{field.replace('_', ' ').capitalize()} {message}")
    if errors.get("title", "").startswith("Title Title"):
        errors["title"] = errors["title"].removeprefix("Title ")
    severity = raw.get("severity")
    if severity not in policy.severities:
        choices = ", ".join(s.label for s in policy.severities.values())
        errors["severity"] = f"Choose a severity: {choices}"
    if raw.get("category") not in policy.categories:
        errors["category"] = "Choose a category from the list"
    for field in ("impact", "urgency"):
        if raw.get(field) not in ("high", "medium", "low"):
            errors[field] = f"Choose the {field}: high, medium or low"
    if errors or data is None:
        raise InvalidInput(errors)
    return data


def declare(
    *,
    session: Session,
    data: DeclareInput,
    reporter_id: str,
    policy: Policy,
    now: datetime,
    declared_in_channel: str | None = None,
    declared_via: str | None = None,
    impact_started_at: datetime | None = None,
) -> Incident:
    """Record a new incident, its `declared` timeline entry, and its Slack set-up task.

    `declared_via` names who declared it when no person did (`alerts:<source>`, `cli`);
    `impact_started_at` is when the impact began when known earlier (an alert's start).
    """
    incident = Incident(
        **data.model_dump(),
        reference=next_reference(session=session, now=now),
        priority=policy.priority(data.impact, data.urgency),
        status=IncidentStatus.REPORTED,
        reporter_id=reporter_id,
        declared_in_channel=declared_in_channel,
        declared_via=declared_via,
        declared_at=now,
        impact_started_at=impact_started_at or now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    assert incident.id is not None
    session.add(
        TimelineEvent(
            incident_id=incident.id,
            kind=TimelineKind.DECLARED,
            occurred_at=now,
            actor_id=reporter_id or declared_via,
            text=incident.title,
            data={
                "reference": incident.reference,
                "severity": incident.severity,
                "priority": incident.priority,
                "category": incident.category,
                "is_private": incident.is_private,
                "via": declared_via,
            },
            dedupe_key=f"declared:{incident.reference}",
        )
    )
    impact_periods.start_first_period(session, incident)
    session.flush()
    reminder_rules.arm(session, incident, policy, now)
    task_schedule.arm(
        session=session, incident_id=incident.id, kind=TaskKind.PROVISION, due_at=now, now=now
    )
    return incident


__all__ = ["TITLE_MAX", "DeclareInput", "declare", "validate_declaration"]
