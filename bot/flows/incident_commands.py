"""Running an incident from its channel: each `/incident` subcommand and form as a flow,
made and shown through `incident_changes`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.context import Context
from bot.errors import UserError
from bot.flows import effect_delivery, incident_changes, public_updates
from bot.ids import MetadataType
from bot.models import ClosingReason, Incident, IncidentStatus, StatusUpdate
from bot.policy import format_duration
from bot.render import render
from bot.services import (
    audit_log,
    disclosure,
    effect_queue,
    incident_closure,
    incident_lifecycle,
    incident_queries,
    incident_roles,
    status_updates,
)
from bot.services.moments import parse_moment
from bot.views import forms

# -- plumbing ----------------------------------------------------------------------------


# -- forms -------------------------------------------------------------------------------


def open_update_form(ctx: Context, channel_id: str, trigger_id: str) -> None:
    """The structured status update form."""
    incident = incident_changes.incident_in(ctx, channel_id)
    open_update_form_for(ctx, incident, trigger_id)


def open_update_form_for(ctx: Context, incident: Incident, trigger_id: str) -> None:
    """The status update form for an incident (refused once it is resolved)."""
    if not incident.is_open:
        raise UserError(f"{incident.reference} is {incident.status}: reopen it to post updates.")
    incident_changes.open_form(ctx, trigger_id, forms.update_modal(incident, ctx.policy).to_dict())


def open_resolve_form(ctx: Context, channel_id: str, trigger_id: str) -> None:
    """The resolution form (also to fill in the details once resolved)."""
    incident = incident_changes.incident_in(ctx, channel_id)
    _open_resolve_form(ctx, incident, trigger_id)


def open_resolve_form_for(ctx: Context, incident_id: int, trigger_id: str) -> None:
    """The resolution form of an incident by ID (the "all alerts resolved" button)."""
    with ctx.db.session() as session:
        incident = incident_queries.require(session, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise UserError(f"{incident.reference} is already resolved.")
    _open_resolve_form(ctx, incident, trigger_id)


def _open_resolve_form(ctx: Context, incident: Incident, trigger_id: str) -> None:
    if incident.status == IncidentStatus.CLOSED:
        raise UserError(f"{incident.reference} is closed: reopen it to change it.")
    view = forms.resolve_modal(incident, ctx.policy.root_cause_categories)
    incident_changes.open_form(ctx, trigger_id, view.to_dict())


def record_update(
    ctx: Context, incident_id: int, actor: str, data: status_updates.UpdateInput
) -> list[int]:
    """Save a submitted status update (before the form closes) and what Slack must show of
    it; returns those effects."""
    now = ctx.clock.now()

    def show(
        session: Session, incident: Incident, result: tuple[StatusUpdate, object], at: datetime
    ) -> list[int]:
        update = result[0]
        severity = ctx.policy.severity(incident.severity)
        text = render("status_update.j2", incident=incident, update=update, severity=severity)
        return incident_changes.echo(
            session,
            incident,
            text,
            at,
            announce=True,
            kind=MetadataType.UPDATE,
            update_id=update.id,
        )

    changed = incident_changes.change(
        ctx,
        incident_id,
        lambda s, i: status_updates.post_update(s, i, data, actor=actor, now=now),
        show,
    )
    return changed.effects


def record_resolution(
    ctx: Context,
    incident_id: int,
    actor: str,
    fields: dict[str, str],
    category: str | None = None,
) -> list[int]:
    """Resolve, or fill in the resolution details of a resolved incident (and the root
    cause's category, when chosen); returns what the change owes Slack."""
    now = ctx.clock.now()

    def apply(session: Session, incident: Incident) -> str:
        if incident.status == IncidentStatus.CLOSED:
            raise UserError(f"{incident.reference} is closed: reopen it to change it.")
        if category is not None:
            audit_log.set_field(
                session, incident, "root_cause_category", category, actor=actor, now=now
            )
        if incident.status == IncidentStatus.RESOLVED:
            incident_lifecycle.update_resolution(session, incident, actor=actor, now=now, **fields)
            return "resolution_updated.j2"
        incident_lifecycle.resolve(
            session, incident, actor=actor, now=now, policy=ctx.policy, **fields
        )
        return "resolved.j2"

    def show(session: Session, incident: Incident, template: str, at: datetime) -> list[int]:
        severity = ctx.policy.severity(incident.severity)
        text = render(
            template,
            actor=actor,
            incident=incident,
            severity=severity,
            pir_required=severity.pir_required,
        )
        effects = incident_changes.echo(
            session, incident, text, at, announce=template == "resolved.j2"
        )
        if template == "resolved.j2":
            effects += public_updates.resolved_offer(session, incident, at)
        return effects

    return incident_changes.change(ctx, incident_id, apply, show).effects


# -- lifecycle ---------------------------------------------------------------------------


def _in_channel(
    ctx: Context,
    channel_id: str,
    actor: str,
    fn: Callable[[Session, Incident, datetime], object],
    template: str,
    *,
    announce: bool = False,
    **extra: Any,
) -> None:
    """`change_and_show` for the incident of the channel a command was run in."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    incident_changes.change_and_show(
        ctx, incident.id, actor, fn, template, announce=announce, **extra
    )


def set_status(ctx: Context, channel_id: str, actor: str, target: IncidentStatus) -> None:
    """Move an open incident to another open state."""
    _in_channel(
        ctx,
        channel_id,
        actor,
        lambda s, i, now: incident_lifecycle.change_status(s, i, target, actor=actor, now=now),
        "status_changed.j2",
    )


def describe_status(ctx: Context, channel_id: str) -> str:
    """Where the incident stands, and how to move it."""
    incident = incident_changes.incident_in(ctx, channel_id)
    return (
        f"{incident.reference} is *{incident.status}*. Change it with "
        "`/incident status investigating|identified|monitoring|resolved|closed`."
    )


def set_severity(ctx: Context, channel_id: str, actor: str, key: str) -> None:
    """Change the severity; the reminders follow the new one's cadence and targets."""
    _in_channel(
        ctx,
        channel_id,
        actor,
        lambda s, i, now: incident_lifecycle.change_severity(
            s, i, key, actor=actor, now=now, policy=ctx.policy
        ),
        "severity_changed.j2",
        announce=True,
    )


def set_priority(
    ctx: Context,
    channel_id: str,
    actor: str,
    priority: str,
    impact: str | None,
    urgency: str | None,
) -> None:
    """Change the priority (and the impact and urgency behind it, when given)."""
    _in_channel(
        ctx,
        channel_id,
        actor,
        lambda s, i, now: incident_lifecycle.change_priority(
            s, i, priority, impact=impact, urgency=urgency, actor=actor, now=now
        ),
        "priority_changed.j2",
        announce=True,
    )


def open_close_form(ctx: Context, channel_id: str, trigger_id: str) -> None:
    """The close form (why it is closed), once the incident can be closed."""
    incident = incident_changes.incident_in(ctx, channel_id)
    incident_closure.check_closable(incident, ctx.policy)
    incident_changes.open_form(ctx, trigger_id, forms.close_modal(incident).to_dict())


def close(ctx: Context, channel_id: str, actor: str, reason: ClosingReason) -> None:
    """Close the channel's incident (resolved, with the required fields filled)."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    close_by_id(ctx, incident.id, actor, reason)


def close_by_id(ctx: Context, incident_id: int, actor: str, reason: ClosingReason) -> None:
    """Close an incident, with why (the close form, or `/incident close <reason>`)."""
    incident_changes.change_and_show(
        ctx,
        incident_id,
        actor,
        lambda s, i, now: incident_closure.close(
            s, i, actor=actor, now=now, policy=ctx.policy, reason=reason
        ),
        "closed.j2",
        announce=True,
    )


def reopen(ctx: Context, channel_id: str, actor: str) -> None:
    """Back to investigating, with a new impact period."""
    _in_channel(
        ctx,
        channel_id,
        actor,
        lambda s, i, now: incident_lifecycle.reopen(s, i, actor=actor, now=now, policy=ctx.policy),
        "reopened.j2",
        announce=True,
    )


def set_started(ctx: Context, channel_id: str, actor: str, text: str) -> None:
    """Set when the impact began, read in the person's own timezone."""
    who = ctx.slack.user(actor)
    when = parse_moment(text, now=ctx.clock.now(), tz=who.tz if who else None)
    _in_channel(
        ctx,
        channel_id,
        actor,
        lambda s, i, now: incident_lifecycle.set_impact_start(s, i, when, actor=actor, now=now),
        "impact_started.j2",
        started=when,
    )


def add_note(ctx: Context, channel_id: str, actor: str, text: str) -> None:
    """A note on the timeline, echoed in the channel."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    now = ctx.clock.now()
    note = render("note.j2", actor=actor, text=text)
    changed = incident_changes.change(
        ctx,
        incident.id,
        lambda s, i: status_updates.add_note(s, i, text, actor=actor, now=now),
        lambda s, i, _r, at: [
            effect_queue.post(s, incident.id or 0, to=effect_queue.CHANNEL, text=note, now=at)
        ],
    )
    effect_delivery.deliver(ctx, changed.effects)


# -- roles -------------------------------------------------------------------------------


def request_role(
    ctx: Context, channel_id: str, actor: str, role: str, user_id: str, trigger_id: str
) -> None:
    """Give someone a role, or ask for a handoff note when someone else holds it."""
    incident = incident_changes.incident_in(ctx, channel_id)
    user_id = incident_changes.person(ctx, user_id)
    with ctx.db.session() as session:
        current = incident_roles.holder(session, incident, role)
    if current is not None and current.user_id != user_id:
        view = forms.handoff_modal(incident, role, ctx.policy.role_name(role), user_id)
        incident_changes.open_form(ctx, trigger_id, view.to_dict())
        return
    assert incident.id is not None
    incident_changes.publish(
        ctx, record_role(ctx, incident.id, role, user_id, actor=actor, handoff=None)
    )


def record_role(
    ctx: Context,
    incident_id: int,
    role: str,
    user_id: str,
    *,
    actor: str,
    handoff: dict[str, str] | None,
) -> list[int]:
    """Save a role change (the previous holder's assignment ends) and what Slack must do
    for it: add the new holder to the channel, tell the channel, brief them by DM."""
    now = ctx.clock.now()

    def show(session: Session, incident: Incident, previous: str | None, at: datetime) -> list[int]:
        assert incident.id is not None
        text = render(
            "role_assigned.j2",
            user=user_id,
            role_name=ctx.policy.role_name(role),
            incident=incident,
            previous=previous,
            actor=actor,
            handoff=handoff,
        )
        duties = render(
            "role_duties.j2",
            role=ctx.policy.roles[role],
            incident=disclosure.outside(incident),
            handoff=handoff if not incident.is_private else None,
            actor=actor,
        )
        return [
            effect_queue.invite(session, incident.id, user_id, at),
            *incident_changes.echo(session, incident, text, at),
            effect_queue.post(session, incident.id, to=user_id, text=duties, now=at),
        ]

    return incident_changes.change(
        ctx,
        incident_id,
        lambda s, i: incident_roles.assign_role(
            s, i, role, user_id, actor=actor, now=now, policy=ctx.policy, handoff=handoff
        ),
        show,
    ).effects


# -- listing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedIncident:
    """One line of `/incident list`."""

    incident: Incident
    severity: str
    age: str


def open_incidents_for(ctx: Context, user_id: str) -> str:
    """The open incidents a person may see (private ones only for their members)."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        open_incidents = incident_queries.list_open(session)
    member_of: set[str] = set()
    if any(i.is_private for i in open_incidents):
        member_of = ctx.slack.private_channels_of(user_id)
    rows = [
        ListedIncident(
            incident=i,
            severity=ctx.policy.severity(i.severity).label,
            age=format_duration(
                timedelta(minutes=max(int((now - i.declared_at).total_seconds() // 60), 1))
            ),
        )
        for i in open_incidents
        if disclosure.may_see(i, member_of)
    ]
    return render("incident_list.j2", rows=rows)
