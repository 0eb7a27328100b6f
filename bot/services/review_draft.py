"""The post-incident review draft: facts from the record, gaps named, secrets masked.

Nothing is invented: a section with no data says "To be investigated".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.models import (
    AuditEntry,
    Incident,
    PirDraft,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import Policy, format_duration
from bot.render import TEMPLATES_DIR
from bot.services import follow_up_actions, impact_periods, incident_lifecycle

TBI = "To be investigated"
TEMPLATE = "pir.md.j2"
KEY_KINDS = {
    TimelineKind.DECLARED,
    TimelineKind.STATUS_CHANGED,
    TimelineKind.SEVERITY_CHANGED,
    TimelineKind.PRIORITY_CHANGED,
    TimelineKind.ROLE_ASSIGNED,
    TimelineKind.HANDOFF,
    TimelineKind.STATUS_UPDATE,
    TimelineKind.NOTE,
    TimelineKind.ACTION_ADDED,
    TimelineKind.ACTION_DONE,
    TimelineKind.IMPACT_STARTED,
    TimelineKind.RESOLVED,
    TimelineKind.CLOSED,
    TimelineKind.REOPENED,
}
CHATTER_KINDS = {
    TimelineKind.MESSAGE,
    TimelineKind.FILE_SHARED,
    TimelineKind.BOT_MESSAGE,
    TimelineKind.MEMBER_JOINED,
    TimelineKind.MEMBER_LEFT,
}

_SECRETS = [
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}"), "[masked Slack token]"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"), "[masked Slack token]"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[masked AWS key]"),
    (
        re.compile(
            r"(?i)\b(aws_secret_access_key|secret|password|passwd|api[_-]?key|token)"
            r"(\s*[:=]\s*)[^\s,;]+"
        ),
        r"\1\2[masked]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [masked]"),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9]{20,})\b"), "[masked token]"),
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@/]+@", re.IGNORECASE), r"\1:[masked]@"),
    (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "[masked email]"),
]


def mask_secrets(text: str) -> str:
    """Mask emails, tokens, keys and passwords in URLs."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class Entry:
    """One line of the review's timeline."""

    at: datetime
    text: str
    key: bool = True


def _fmt(moment: datetime | None, *, with_date: bool = True) -> str:
    if moment is None:
        return TBI
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_date else "%H:%M")


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return TBI
    return format_duration(max(end - start, timedelta(0)) // 60 * 60) or "under a minute"


def _target(actual: timedelta | None, target: timedelta | None) -> str:
    if target is None:
        return format_duration(max(actual, timedelta(0)) // 60 * 60) if actual else TBI
    if actual is None:
        return f"{TBI} (target {format_duration(target)})"
    verdict = "met" if actual <= target else "missed"
    took = format_duration(max(actual, timedelta(0)) // 60 * 60)
    return f"{took} — target {format_duration(target)} {verdict}"


def _text(value: str | None) -> str:
    cleaned = (value or "").strip()
    return (
        cleaned
        if cleaned and cleaned.lower().rstrip(".") not in incident_lifecycle.PLACEHOLDERS
        else TBI
    )


def build(session: Session, incident: Incident, policy: Policy, now: datetime) -> dict[str, Any]:
    """The template's context for one incident."""
    severity = policy.severity(incident.severity)
    rows = list(
        session.exec(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id)
            .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
        ).all()
    )
    end = incident.resolved_at or now
    spans_days = incident.declared_at.date() != end.date()
    entries: list[Entry] = []
    chatter: Counter[str] = Counter()
    people: dict[str, set[str]] = {}
    for row in rows:
        is_key = row.is_key_event or row.kind in KEY_KINDS
        if is_key and row.deleted_at is None:
            who = f"<@{row.actor_id}> " if row.actor_id else ""
            label = "📌 " if row.is_key_event else ""
            entries.append(Entry(row.occurred_at, f"{label}{who}{_line(row)}"))
        elif row.kind in CHATTER_KINDS and row.deleted_at is None:
            bucket = row.occurred_at.strftime("%Y-%m-%d %H:00" if spans_days else "%H:00")
            chatter[bucket] += 1
            people.setdefault(bucket, set()).add(row.actor_id or "?")
    routine = [
        {"hour": hour, "count": count, "people": len(people[hour])}
        for hour, count in sorted(chatter.items())
    ]
    audit = list(
        session.exec(
            select(AuditEntry)
            .where(
                AuditEntry.incident_id == incident.id,
                col(AuditEntry.field).in_(["severity", "priority"]),
            )
            .order_by(col(AuditEntry.at))
        ).all()
    )
    roles = list(
        session.exec(
            select(RoleAssignment)
            .where(RoleAssignment.incident_id == incident.id)
            .order_by(col(RoleAssignment.assigned_at))
        ).all()
    )
    handoffs = [row for row in rows if row.kind == TimelineKind.HANDOFF]
    updates = int(
        session.exec(
            select(func.count())
            .select_from(StatusUpdate)
            .where(StatusUpdate.incident_id == incident.id)
        ).one()
    )
    items = follow_up_actions.of_incident(session, incident)
    done, total = follow_up_actions.completion(items)
    periods = impact_periods.periods(session, incident)
    start = incident.impact_started_at or incident.declared_at
    detect = (
        incident.declared_at - incident.impact_started_at if incident.impact_started_at else None
    )
    return {
        "incident": incident,
        "severity": severity,
        "start": _fmt(start),
        "end": _fmt(incident.resolved_at) if incident.resolved_at else "Ongoing",
        "duration": _duration(start, incident.resolved_at),
        "changes": [
            {"field": a.field, "old": a.old_value, "new": a.new_value, "at": _fmt(a.at)}
            for a in audit
        ],
        "summary": _text(incident.description),
        "impact": _text(incident.impact_summary),
        "services": _text(incident.affected_services),
        "periods": [
            {
                "n": p.ordinal,
                "start": _fmt(p.started_at),
                "end": _fmt(p.ended_at) if p.ended_at else "ongoing",
                "duration": _duration(p.started_at, p.ended_at),
            }
            for p in periods
        ],
        "entries": [{"at": _fmt(e.at, with_date=spans_days), "text": e.text} for e in entries],
        "routine": routine,
        "spans_days": spans_days,
        "detected": _fmt(incident.declared_at),
        "time_to_detect": format_duration(detect // 60 * 60)
        if detect and detect > timedelta(0)
        else TBI,
        "reporter": incident.reporter_id,
        "roles": [
            {
                "role": policy.roles[r.role].name if r.role in policy.roles else r.role,
                "user": r.user_id,
                "from": _fmt(r.assigned_at),
                "to": _fmt(r.ended_at) if r.ended_at else "end",
            }
            for r in roles
        ],
        "handoffs": [
            {
                "at": _fmt(h.occurred_at),
                "from": h.data.get("from"),
                "to": h.data.get("to"),
                "known": h.data.get("known", ""),
            }
            for h in handoffs
        ],
        "updates": updates,
        "tta": _target(
            (incident.acknowledged_at - incident.declared_at) if incident.acknowledged_at else None,
            severity.response_target,
        ),
        "ttm": _target(
            (incident.mitigated_at - start) if incident.mitigated_at else None,
            None,  # the policy sets no mitigation target
        ),
        "ttr": _target(
            (incident.resolved_at - start) if incident.resolved_at else None,
            severity.resolution_target,
        ),
        "root_cause": _text(incident.root_cause),
        "resolution": _text(incident.resolution),
        "actions": [
            {
                "n": item.number,
                "text": item.text,
                "owner": item.owner_id,
                "due": item.due_date.isoformat() if item.due_date else None,
                "state": item.state,
            }
            for item in items
        ],
        "completion": f"{done} of {total} done ({round(100 * done / total)}%)" if total else TBI,
        "generated": _fmt(now),
        "tbi": TBI,
    }


def _line(row: TimelineEvent) -> str:
    text = " ".join(row.text.split())
    if len(text) > 300:
        text = text[:297] + "…"
    return text or row.kind.replace("_", " ")


@lru_cache(maxsize=8)
def _environment(extra: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if extra is not None:
        loaders.append(jinja2.FileSystemLoader(str(extra)))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES_DIR)))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - Markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(context: dict[str, Any], templates_dir: Path | None) -> tuple[str, str | None]:
    """The masked Markdown draft, and the error of a team template that could not be used."""
    error = None
    try:
        text = _environment(templates_dir).get_template(TEMPLATE).render(**context)
    except jinja2.TemplateError as exc:
        if templates_dir is None:
            raise
        error = f"{type(exc).__name__}: {exc}"
        text = _environment(None).get_template(TEMPLATE).render(**context)
    return mask_secrets(text), error


def next_version(session: Session, incident: Incident) -> int:
    """The version number the next draft gets."""
    latest = session.exec(
        select(func.max(PirDraft.version)).where(PirDraft.incident_id == incident.id)
    ).one()
    return int(latest or 0) + 1


def latest(session: Session, incident: Incident) -> PirDraft | None:
    """The newest draft."""
    return session.exec(
        select(PirDraft)
        .where(PirDraft.incident_id == incident.id)
        .order_by(col(PirDraft.version).desc())
    ).first()


def has_content(session: Session, incident: Incident) -> bool:
    """Whether the timeline holds anything beyond the declaration and the bot's set-up."""
    count = session.exec(
        select(func.count())
        .select_from(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident.id,
            col(TimelineEvent.kind).not_in(
                [
                    TimelineKind.DECLARED,
                    TimelineKind.SLACK_SETUP,
                    TimelineKind.BOT_POST,
                    TimelineKind.COMMAND,
                ]
            ),
        )
    ).one()
    return int(count) > 0
