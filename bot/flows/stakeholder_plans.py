"""What a due stakeholder update says, and to whom, decided when it falls due (`plan`).

Executives get the status and the ETA, business units an impact assessment, customer
support talking points from the latest status update and the last published public
message. Each Slack destination (a channel, or a person: a user, or each member of a user
group) gets the text its audience may see (`disclosure.for_destination`); email goes
outside Slack and shows what `disclosure.outside` allows. A digest of what the template
shows tells whether anything changed since the last update that went out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bot.comms_policy import Stakeholder
from bot.context import Context
from bot.durations import format_duration
from bot.flows import reminder_plans
from bot.models import Incident, PublicUpdate, ScheduledTask, StatusUpdate
from bot.models.comms import PublicUpdateState
from bot.render import render, render_document
from bot.services import disclosure, stakeholder_rules
from bot.slack.gateway import SlackCallFailed

HEADINGS = {
    "executives": "Executive update",
    "business_units": "Impact assessment",
    "customer_support": "Talking points for customer support",
}


@dataclass(frozen=True)
class Email:
    """One stakeholder update by email."""

    to: list[str]
    subject: str
    text: str
    html: str


@dataclass
class StakeholderPlan:
    """What firing a stakeholder update means now."""

    stakeholder: Stakeholder | None = None  # None: it no longer follows the incident
    posts: list[reminder_plans.Post] = field(default_factory=list)
    email: Email | None = None
    digest: str = ""
    skipped: bool = False  # nothing changed since the last one, and the policy says skip
    final: bool = False  # the incident is resolved: the last update, saying so
    # User groups whose members Slack would not list, with its answer.
    refused: list[tuple[str, SlackCallFailed]] = field(default_factory=list)


@dataclass(frozen=True)
class Facts:
    """What a stakeholder update is made of."""

    incident: Incident
    latest: StatusUpdate | None
    public: PublicUpdate | None


def _facts(ctx: Context, incident: Incident) -> Facts:
    with ctx.db.session() as session:
        latest = session.exec(
            select(StatusUpdate)
            .where(StatusUpdate.incident_id == incident.id)
            .order_by(col(StatusUpdate.created_at).desc(), col(StatusUpdate.id).desc())
        ).first()
        public = session.exec(
            select(PublicUpdate)
            .where(
                PublicUpdate.incident_id == incident.id,
                PublicUpdate.state == PublicUpdateState.PUBLISHED,
            )
            .order_by(col(PublicUpdate.published_at).desc(), col(PublicUpdate.id).desc())
        ).first()
    return Facts(incident, latest, public)


def digest(template: str, facts: Facts) -> str:
    """A fingerprint of what the template shows (not of the time that passes)."""
    incident, latest, public = facts.incident, facts.latest, facts.public
    shown: dict[str, Any] = {
        "template": template,
        "status": incident.status,
        "severity": incident.severity,
        "priority": incident.priority,
        "title": incident.title,
        "private": incident.is_private,
        "next_update": incident.next_update_due_at,
    }
    if template == "executives":
        shown["commander"] = incident.commander_id
        shown["next_steps"] = latest.next_steps if latest else None
    elif template == "business_units":
        shown["impact"] = [incident.impact, incident.urgency, incident.impact_summary]
        shown["services"] = incident.affected_services
    else:
        shown["services"] = incident.affected_services
        shown["latest"] = latest.id if latest else None
        shown["public"] = public.id if public else None
    encoded = json.dumps(shown, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def _context(
    ctx: Context,
    facts: Facts,
    stakeholder: Stakeholder,
    view: disclosure.IncidentView,
    now: datetime,
) -> dict[str, Any]:
    incident = facts.incident
    latest, public = disclosure.quoted(view, facts.latest, facts.public)
    ended = incident.resolved_at if not incident.is_open and incident.resolved_at else now
    return {
        "incident": view,
        "stakeholder": stakeholder.name,
        "severity": ctx.policy.severity(incident.severity),
        "elapsed": format_duration(max(ended - incident.declared_at, timedelta(0))),
        "final": not incident.is_open,
        "resolved_at": incident.resolved_at,
        "next_update": incident.next_update_due_at if incident.is_open else None,
        "latest": latest,
        "public": public,
    }


def _posts(
    ctx: Context, facts: Facts, stakeholder: Stakeholder, now: datetime
) -> tuple[list[reminder_plans.Post], list[tuple[str, SlackCallFailed]]]:
    """One post per Slack destination: each channel, each person (user groups' members)."""
    # Contacts with no Slack ID set are left out (they only become mentions).
    targets = reminder_plans.resolve_targets(ctx, stakeholder.targets, dm=True)
    name = f"stakeholder_{stakeholder.template}.j2"

    def text(destination: str) -> str:
        view = disclosure.for_destination(facts.incident, destination)
        return render(name, **_context(ctx, facts, stakeholder, view, now))

    posts = [reminder_plans.Post(f"channel:{c}", c, text(c)) for c in targets.channels]
    posts.extend(reminder_plans.Post(f"dm:{p}", p, text(p)) for p in targets.people)
    return posts, targets.refused


def _email(ctx: Context, facts: Facts, stakeholder: Stakeholder, now: datetime) -> Email:
    """The update by email: it leaves Slack, so it shows what an outsider may see."""
    view = disclosure.outside(facts.incident)
    context = _context(ctx, facts, stakeholder, view, now)
    commander = None
    if view.commander_id:
        person = ctx.slack.user(view.commander_id)
        commander = person.name if person is not None else None
    heading = HEADINGS[stakeholder.template]
    if not facts.incident.is_open:
        heading = f"Resolved — {heading}"
    title = "" if view.restricted else f": {view.title}"
    subject = f"{ctx.policy.email.subject_prefix} {heading} — {view.reference}{title}"
    base = f"stakeholder_{stakeholder.template}"
    return Email(
        to=list(stakeholder.email),
        subject=" ".join(subject.split())[:250],
        text=render_document(f"{base}.txt.j2", commander=commander, **context),
        html=render_document(f"{base}.html.j2", commander=commander, **context),
    )


def plan(ctx: Context, incident: Incident, task: ScheduledTask, now: datetime) -> StakeholderPlan:
    """Decide what a due stakeholder update sends, that it is skipped, or that it stops.

    Once the incident is resolved, a stakeholder that has had an update gets one last one
    saying so (never skipped); one that has had none hears nothing.
    """
    stakeholder = stakeholder_rules.stakeholder(ctx.policy, task.key)
    if stakeholder is None or not stakeholder_rules.follows(stakeholder, incident.severity):
        return StakeholderPlan()
    final = not incident.is_open
    if final and not stakeholder_rules.has_heard(task):
        return StakeholderPlan()
    facts = _facts(ctx, incident)
    fingerprint = digest(stakeholder.template, facts)
    if not final and stakeholder.skip_unchanged and task.data.get("digest") == fingerprint:
        return StakeholderPlan(stakeholder=stakeholder, digest=fingerprint, skipped=True)
    posts, refused = _posts(ctx, facts, stakeholder, now)
    email = _email(ctx, facts, stakeholder, now) if stakeholder.email else None
    return StakeholderPlan(
        stakeholder=stakeholder,
        posts=posts,
        email=email,
        digest=fingerprint,
        refused=refused,
        final=final,
    )
