"""The post-incident review draft: facts from the record, gaps named, secrets masked.

Nothing is invented: a section with no data says "To be investigated". The draft is
written from an incident's record (`review_record.load`, whose people the caller looks
up), composed into the template's context (`compose`) and rendered (`render`), with what
changed since the previous version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.models import Incident, PirDraft, TimelineEvent, TimelineKind
from bot.policy import Policy
from bot.render import TEMPLATES_DIR
from bot.services import (
    follow_up_actions,
    review_changes,
    review_entries,
    review_record,
)
from bot.services import review_wording as wording
from bot.services.markdown_text import Names, Person, cell, one_line, quote
from bot.services.review_wording import TBI
from bot.services.secret_masking import mask_secrets

TEMPLATE = "pir.md.j2"


def _clock(moment: datetime, reference: datetime) -> str:
    """A moment, with its date only when it falls on another day than `reference`."""
    if moment.date() != reference.date():
        return wording.moment(moment)
    return f"{wording.moment(moment, with_date=False)} UTC"


def _summary(record: review_record.Record, policy: Policy, names: Names) -> str:
    """What happened, when, and for how long, in sentences written from the record."""
    incident = record.incident
    title = one_line(names.markdown(incident.title))
    severity = wording.severity(policy, incident.severity)
    services = wording.known(incident.affected_services)
    what = f"**{title}**: a {severity} ({incident.priority}) {incident.category} incident"
    what += (
        f" affecting {one_line(names.markdown(services))}."
        if services
        else f". Affected services: {TBI}."
    )
    declared = incident.declared_at
    start = incident.impact_started_at or declared
    if start < declared:
        when = (
            f"The impact began {wording.moment(start)}; the incident was declared"
            f" {wording.duration(declared - start)} later, at {_clock(declared, start)}."
        )
    else:
        when = f"The impact began and the incident was declared {wording.moment(declared)}."
    if incident.resolved_at is not None:
        reopened = max(len(record.periods) - 1, 0)
        end = (
            f" It was resolved at {_clock(incident.resolved_at, start)}, after"
            f" {wording.duration(incident.resolved_at - start)}"
        )
        if reopened:
            end += f" and {reopened} reopening{'s' if reopened != 1 else ''}"
        end += "."
        if incident.closed_at is not None:
            end += f" It was closed at {_clock(incident.closed_at, start)}."
    else:
        end = f" It is still open ({wording.status(incident.status)})."
    return f"{what} {when}{end}"


def _value(policy: Policy, name: str, value: str | None) -> str:
    """A changed field's value as people read it (a severity's label, not its key)."""
    return wording.severity(policy, value) if name == "severity" else value or TBI


def _written(value: str | None, names: Names) -> str:
    """A field people wrote, as Markdown, or To be investigated."""
    text = wording.known(value)
    return names.markdown(text) if text else TBI


def compose(
    record: review_record.Record,
    policy: Policy,
    now: datetime,
    *,
    people: Mapping[str, Person] | None,
    version: int,
) -> dict[str, Any]:
    """The template's context: every text converted to Markdown, every person named.

    `people` are the names Slack gave (None: not looked up, so people show as their IDs).
    """
    incident = record.incident
    names = Names(
        people=people or {},
        channels=record.channels,
        looked_up=people is not None,
        withheld={
            channel: f"a private incident's channel ({reference})"
            for channel, reference in record.withheld.items()
        },
    )
    severity = policy.severity(incident.severity)
    end = incident.resolved_at or now
    start = incident.impact_started_at or incident.declared_at
    spans_days = min(start, incident.declared_at).date() != end.date()
    writer = review_entries.Writer(policy=policy, names=names, with_date=spans_days)
    detect = incident.declared_at - start
    impact = _written(incident.impact_summary, names)
    root_cause = _written(incident.root_cause, names)
    resolution = _written(incident.resolution, names)
    description = wording.known(incident.description)
    done, total = follow_up_actions.completion(record.actions)
    handoffs = [
        row for row in record.timeline.shown if row.kind == TimelineKind.HANDOFF and row.data
    ]
    commander = incident.commander_id
    return {
        "incident": incident,
        "severity": severity,
        "version": version,
        "generated": wording.moment(now),
        "title": one_line(names.markdown(incident.title)),
        "category": incident.category,
        "status": wording.status(incident.status),
        "start": wording.moment(start),
        "end": wording.moment(incident.resolved_at) if incident.resolved_at else "Ongoing",
        "duration": wording.between(start, incident.resolved_at),
        "changes": [
            {
                "field": a.field.capitalize(),
                "old": wording.severity(policy, a.old_value)
                if a.field == "severity"
                else a.old_value,
                "new": wording.severity(policy, a.new_value)
                if a.field == "severity"
                else a.new_value,
                "at": wording.moment(a.at),
            }
            for a in record.changes
        ],
        "summary": _summary(record, policy, names),
        "summary_points": [
            {"label": "Impact", "text": one_line(impact, 600)},
            {"label": "Cause", "text": one_line(root_cause, 600)},
            {"label": "Fix", "text": one_line(resolution, 600)},
        ],
        "description": names.markdown(description) if description else None,
        "impact": impact,
        "services": _written(incident.affected_services, names),
        "periods": [
            {
                "n": p.ordinal,
                "start": wording.moment(p.started_at),
                "end": wording.moment(p.ended_at) if p.ended_at else "ongoing",
                "duration": wording.between(p.started_at, p.ended_at),
            }
            for p in record.periods
        ],
        "entries": review_entries.entries(
            record.timeline, incident, acknowledged_by=record.acknowledged_by, writer=writer
        ),
        "routine": review_entries.routine(record.timeline, with_date=spans_days),
        "spans_days": spans_days,
        "day": start.strftime("%Y-%m-%d"),
        "detected": wording.moment(incident.declared_at),
        "time_to_detect": wording.duration(detect) if detect > timedelta(0) else TBI,
        "reporter": names.person(incident.reporter_id)
        if incident.reporter_id
        else (incident.declared_via or "monitoring"),
        "commander": names.person(commander) if commander else "none assigned",
        "roles": [
            {
                "role": policy.roles[r.role].name if r.role in policy.roles else r.role,
                "user": names.person(r.user_id),
                "from": wording.moment(r.assigned_at),
                "to": wording.moment(r.ended_at) if r.ended_at else "end",
            }
            for r in record.roles
        ],
        "handoffs": [
            {
                "at": wording.moment(h.occurred_at),
                "role": writer.role(h.data.get("role")),
                "from": names.person(h.data.get("from")),
                "to": names.person(h.data.get("to")),
                "known": writer.md(h.data["known"]) if wording.known(h.data.get("known")) else "",
            }
            for h in handoffs
        ],
        "updates": record.updates,
        "tta": wording.against_target(
            (incident.acknowledged_at - incident.declared_at) if incident.acknowledged_at else None,
            severity.response_target,
        ),
        "ttm": wording.against_target(
            (incident.mitigated_at - start) if incident.mitigated_at else None,
            None,  # the policy sets no mitigation target
        ),
        "ttr": wording.against_target(
            (incident.resolved_at - start) if incident.resolved_at else None,
            severity.resolution_target,
        ),
        "root_cause": root_cause,
        "resolution": resolution,
        "actions": [
            {
                "n": item.number,
                "text": one_line(names.markdown(item.text), 1000),
                "owner": names.person(item.owner_id) if item.owner_id else None,
                "due": item.due_date.isoformat() if item.due_date else None,
                "state": item.state,
            }
            for item in record.actions
        ],
        "completion": f"{done} of {total} done ({round(100 * done / total)}%)" if total else TBI,
        "tbi": TBI,
    }


def build(
    session: Session,
    incident: Incident,
    policy: Policy,
    now: datetime,
    *,
    people: Mapping[str, Person] | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """The template's context for one incident, read and composed in one step."""
    return compose(
        review_record.load(session, incident),
        policy,
        now,
        people=people,
        version=version if version is not None else next_version(session, incident),
    )


@lru_cache(maxsize=8)
def _environment(extra: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if extra is not None:
        loaders.append(jinja2.FileSystemLoader(str(extra)))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES_DIR)))
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - Markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = cell
    environment.filters["quote"] = quote
    return environment


def _render(context: dict[str, Any], templates_dir: Path | None) -> tuple[str, str | None]:
    try:
        return _environment(templates_dir).get_template(TEMPLATE).render(**context), None
    except jinja2.TemplateError as exc:
        if templates_dir is None:
            raise
        error = f"{type(exc).__name__}: {exc}"
        return _environment(None).get_template(TEMPLATE).render(**context), error


def render(
    context: dict[str, Any],
    templates_dir: Path | None,
    *,
    previous: PirDraft | None = None,
) -> tuple[str, str | None]:
    """The masked Markdown draft, and the error of a team template that could not be used.

    With the previous version, the draft lists what changed since (nothing when unchanged).
    """
    text, error = _render({**context, "changes_since": None}, templates_dir)
    text = mask_secrets(text)
    if previous is not None:
        changes = review_changes.between(previous.markdown, text)
        if changes:
            since = {"version": previous.version, "changes": changes}
            text, error = _render({**context, "changes_since": since}, templates_dir)
            text = mask_secrets(text)
    return text, error


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
                    TimelineKind.MEMBER_JOINED,
                    TimelineKind.MEMBER_LEFT,
                    TimelineKind.SYSTEM,
                    TimelineKind.REMINDER,
                ]
            ),
        )
    ).one()
    return int(count) > 0
