"""Routing a stored alert: heartbeat, the open incident that holds it, or the first rule.

All in the database (no Slack): the flow that calls `route` owns the transaction and does
the Slack part afterwards. An alert never makes a second incident while an open one holds
it (same source and fingerprint), and alerts of one rule sharing its `group_by` labels
within the group window join the same open incident: the group's row, inserted once and
locked (`SELECT … FOR UPDATE`; SQLite has one writer at a time), decides between replicas.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from bot.alert_policy import TEMPLATES, Rule
from bot.db import insert_or_ignore
from bot.models import (
    AlertAction,
    AlertGroup,
    AlertRecord,
    AlertSource,
    Incident,
    IncidentAlert,
    TaskKind,
    TimelineKind,
)
from bot.models.incident import DESCRIPTION_MAX, OPEN_STATES, TITLE_MAX
from bot.policy import Policy
from bot.render import clip
from bot.services import (
    effect_queue,
    incident_roles,
    maintenance_windows,
    task_schedule,
    timeline_entries,
)
from bot.services.alert_formats import FIRING, RESOLVED
from bot.services.declaration import DeclareInput, declare

_LEVELS = (("high", "high"), ("high", "medium"), ("medium", "medium"), ("low", "low"))


@dataclass(frozen=True)
class Routed:
    """What routing did with one alert."""

    action: AlertAction
    incident_id: int | None = None
    declared: bool = False
    changed: bool = False  # the incident's alert list changed
    all_resolved: bool = False  # every alert of the incident is resolved now
    auto_resolve: bool = False
    rule: str | None = None
    note: str = ""
    recovered: bool = False  # a heartbeat came back after silence was reported
    effects: tuple[int, ...] = ()  # tasks to run once the incident is set up (invites)


def actor(source: str) -> str:
    """How monitoring appears as the actor of what it did."""
    return f"alerts:{source}"[:32]


def matching_rule(policy: Policy, row: AlertRecord) -> Rule | None:
    """The first rule whose sources and matchers fit the alert."""
    for rule in policy.alerts.rules:
        if rule.sources and row.source not in rule.sources:
            continue
        if all(matcher.matches(_field(row, key)) for key, matcher in rule.match.items()):
            return rule
    return None


def _field(row: AlertRecord, key: str) -> str | None:
    if key in row.labels:
        return str(row.labels[key])
    value = {
        "title": row.title,
        "service": row.service,
        "severity": row.severity,
        "name": row.name,
        "alertname": row.name,
        "status": row.status,
        "source": row.source,
    }.get(key)
    return value or None


def template_context(row: AlertRecord) -> dict[str, Any]:
    """What a rule's title and description templates see."""
    return {
        "alert": {
            "title": row.title,
            "description": row.annotations.get("_description", ""),
            "severity": row.severity,
            "service": row.service,
            "name": row.name,
            "source": row.source,
            "link": row.link,
            "status": row.status,
            "fingerprint": row.fingerprint,
            "starts_at": row.starts_at.isoformat(),
        },
        "labels": dict(row.labels),
        "annotations": {k: v for k, v in row.annotations.items() if not k.startswith("_")},
    }


def _fill(template: str, row: AlertRecord, fallback: str) -> str:
    try:
        text = TEMPLATES.from_string(template).render(template_context(row))
    except TemplateError:
        return fallback
    return text.strip() or fallback


def severity_for(policy: Policy, rule: Rule | None, row: AlertRecord) -> str:
    """The rule's severity, else the alert's own word mapped, else the default."""
    if rule is not None and rule.severity:
        return rule.severity
    return policy.alert_severity(row.severity)


def declare_input(policy: Policy, rule: Rule | None, row: AlertRecord) -> DeclareInput:
    """The incident an alert declares, from the rule's templates over the alert."""
    severity = severity_for(policy, rule, row)
    impact, urgency = _LEVELS[min(policy.rank(severity), len(_LEVELS) - 1)]
    title = " ".join(_fill(rule.title if rule else "{{ alert.title }}", row, row.title).split())
    description = _fill(
        rule.description if rule else "{{ alert.description }}", row, row.title
    ).strip()
    if row.link:
        description = f"{description}\n\nSource: {row.link}".strip()
    services = list(rule.services) if rule and rule.services else [row.service]
    category = (rule.category if rule else None) or policy.alerts.default_category
    return DeclareInput(
        title=clip(title or row.title or "Alert", TITLE_MAX),
        description=clip(description, DESCRIPTION_MAX),
        severity=severity,
        category=category or policy.categories[0],
        impact=impact,
        urgency=urgency,
        affected_services=clip(", ".join(s for s in services if s), 500),
        is_private=bool(rule and rule.private),
    )


def _group_key(rule: Rule, row: AlertRecord) -> str:
    if not rule.group_by:
        parts = [f"{row.source}\x1f{row.fingerprint}"]
    else:
        parts = [f"{name}={_field(row, name) or ''}" for name in rule.group_by]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


def holding_incident(session: Session, row: AlertRecord) -> Incident | None:
    """The open incident this alert (source and fingerprint) is attached to, if any."""
    return session.exec(
        select(Incident)
        .join(IncidentAlert, col(IncidentAlert.incident_id) == col(Incident.id))
        .where(
            IncidentAlert.source == row.source,
            IncidentAlert.fingerprint == row.fingerprint,
            col(Incident.status).in_([str(s) for s in OPEN_STATES]),
        )
        .order_by(col(Incident.id).desc())
    ).first()


def attach(session: Session, incident: Incident, row: AlertRecord, now: datetime) -> bool:
    """Attach the alert to the incident, or bring its status up to date; True when that
    changed something (a repeat of the same notification changes nothing)."""
    assert incident.id is not None
    held = session.exec(
        select(IncidentAlert).where(
            IncidentAlert.incident_id == incident.id,
            IncidentAlert.source == row.source,
            IncidentAlert.fingerprint == row.fingerprint,
        )
    ).first()
    if held is None:
        held = IncidentAlert(
            incident_id=incident.id,
            source=row.source,
            fingerprint=row.fingerprint,
            status=row.status,
            name=row.name,
            title=row.title,
            link=row.link,
            labels=dict(row.labels),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            attached_at=now,
            changed_at=now,
        )
        word = "attached" if row.status == FIRING else "attached (already resolved)"
    elif held.status == row.status:
        return False  # a repeat (a sender re-notifies while nothing changed)
    elif row.status == RESOLVED and row.starts_at < held.starts_at:
        return False  # the end of an earlier firing, after a newer one started
    else:
        word = "resolved" if row.status == RESOLVED else "firing again"
        held.status = row.status
        held.starts_at = row.starts_at if row.status == FIRING else held.starts_at
        held.ends_at = row.ends_at
        held.title = row.title
        held.link = row.link or held.link
        held.changed_at = now
    session.add(held)
    session.flush()
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.ALERT,
        now=now,
        actor=actor(row.source),
        text=f"Alert {word}: {row.title}",
        data={
            "source": row.source,
            "fingerprint": row.fingerprint,
            "status": row.status,
            "name": row.name,
            "link": row.link,
            "alert_id": row.id,
        },
        dedupe_key=f"alert:{incident.id}:{row.id}",
    )
    task_schedule.arm(
        session=session, incident_id=incident.id, kind=TaskKind.ALERT_BOARD, due_at=now, now=now
    )
    return True


def all_resolved(session: Session, incident_id: int) -> bool:
    """Whether the incident has alerts and every one of them is resolved."""
    statuses = session.exec(
        select(IncidentAlert.status).where(IncidentAlert.incident_id == incident_id)
    ).all()
    return bool(statuses) and all(status == RESOLVED for status in statuses)


def _attached(
    session: Session, incident: Incident, row: AlertRecord, now: datetime, rule: Rule | None
) -> Routed:
    changed = attach(session, incident, row, now)
    assert incident.id is not None
    done = row.status == RESOLVED and changed and all_resolved(session, incident.id)
    return Routed(
        AlertAction.ATTACHED,
        incident.id,
        changed=changed,
        all_resolved=done,
        auto_resolve=done and bool(rule and rule.auto_resolve),
        rule=rule.name if rule else None,
    )


def _rule_of(policy: Policy, session: Session, incident: Incident) -> Rule | None:
    group = session.exec(select(AlertGroup).where(AlertGroup.incident_id == incident.id)).first()
    return policy.alerts.rule(group.rule) if group is not None else None


def source_state(session: Session, source: str, now: datetime) -> AlertSource:
    """A source's heartbeat row, created if need be, locked for this transaction."""
    table = AlertSource.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(table)
        .values(source=source, updated_at=now)
        .on_conflict_do_nothing(index_elements=["source"])
    )
    return session.exec(
        select(AlertSource).where(AlertSource.source == source).with_for_update()
    ).one()


def beat(session: Session, source: str, now: datetime) -> bool:
    """Note a heartbeat; True when silence had been reported (monitoring is back)."""
    state = source_state(session, source, now)
    recovered = state.silent_since is not None
    if state.last_heartbeat_at is None or state.last_heartbeat_at < now:
        state.last_heartbeat_at = now
    state.silent_since = None
    state.warned_at = None
    state.silent_incident_id = None
    state.updated_at = now
    session.add(state)
    return recovered


def route(session: Session, policy: Policy, row: AlertRecord, now: datetime) -> Routed:
    """Decide what to do with one alert and do its database part."""
    source = policy.alerts.sources.get(row.source)
    heartbeat = source.heartbeat if source is not None else None
    if heartbeat is not None and row.name == heartbeat.alertname:
        recovered = beat(session, row.source, now) if row.status == FIRING else False
        return Routed(AlertAction.HEARTBEAT, recovered=recovered)
    holder = holding_incident(session, row)
    if holder is not None:
        return _attached(session, holder, row, now, _rule_of(policy, session, holder))
    if row.status == RESOLVED:
        return Routed(AlertAction.RESOLVED)
    rule = matching_rule(policy, row)
    action = rule.action if rule is not None else policy.alerts.default_action
    name = rule.name if rule is not None else None
    if action == "drop":
        return Routed(AlertAction.DROPPED, rule=name)
    if action == "triage" or rule is None:
        return Routed(AlertAction.TRIAGE, rule=name)
    services = {*(rule.services or []), row.service}
    window = maintenance_windows.covering(session, policy, services, now)
    if window is not None:
        note = f"Not declared: maintenance window {window.label} until {window.ends_at:%H:%M} UTC"
        if window.reason:
            note += f" ({window.reason})"
        return Routed(AlertAction.TRIAGE, rule=name, note=clip(note, 300))
    return _declare_or_join(session, policy, rule, row, now)


def _declare_or_join(
    session: Session, policy: Policy, rule: Rule, row: AlertRecord, now: datetime
) -> Routed:
    table = AlertGroup.__table__  # type: ignore[attr-defined]
    key = _group_key(rule, row)
    session.execute(
        insert_or_ignore(
            table,
            ("rule", "group_key", "created_at"),
            ("rule", "group_key"),
            session.get_bind().dialect.name,
        ),
        {"rule": rule.name, "group_key": key, "created_at": now},
    )
    group = session.exec(
        select(AlertGroup)
        .where(AlertGroup.rule == rule.name, AlertGroup.group_key == key)
        .with_for_update()
    ).one()
    window = rule.group_window or policy.alerts.group_window
    if group.incident_id is not None:
        incident = session.get(Incident, group.incident_id)
        recent = group.last_alert_at is not None and group.last_alert_at >= now - window
        if incident is not None and incident.is_open and recent:
            group.last_alert_at = now
            session.add(group)
            return _attached(session, incident, row, now, rule)
    data = declare_input(policy, rule, row)
    reporter = rule.commander or ""
    incident = declare(
        session=session,
        data=data,
        reporter_id=reporter,
        policy=policy,
        now=now,
        declared_via=actor(row.source),
        impact_started_at=min(row.starts_at, now),
    )
    assert incident.id is not None
    if rule.commander:
        incident_roles.assign_role(
            session,
            incident,
            "commander",
            rule.commander,
            actor=actor(row.source),
            now=now,
            policy=policy,
            acknowledge=False,
        )
    invites = tuple(
        effect_queue.invite(session, incident.id, responder, now) for responder in rule.responders
    )
    group.incident_id = incident.id
    group.last_alert_at = now
    session.add(group)
    attach(session, incident, row, now)
    return Routed(
        AlertAction.DECLARED,
        incident.id,
        declared=True,
        changed=True,
        rule=rule.name,
        effects=invites,
    )
