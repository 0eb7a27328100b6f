"""Running an incident from its channel: each `/incident` subcommand and form as a flow.

A change loads the incident under a row lock (`SELECT … FOR UPDATE` on PostgreSQL; SQLite
lets one writer in at a time with BEGIN IMMEDIATE), applies a service change and commits;
only then does it call Slack to show the change: the echo in the channel, the pinned
summary, the topic and the announcement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlmodel import Session

from bot import blocks
from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_posts
from bot.ids import MetadataType
from bot.models import Incident, IncidentStatus, StatusUpdate, TimelineKind
from bot.policy import format_duration
from bot.render import render
from bot.services import (
    disclosure,
    incident_lifecycle,
    incident_queries,
    incident_roles,
    status_updates,
    timeline_entries,
)
from bot.services.moments import parse_moment
from bot.slack.gateway import SlackCallFailed

T = TypeVar("T")

EXPIRED_TRIGGER_ERRORS = ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")


# -- plumbing ----------------------------------------------------------------------------


def incident_in(ctx: Context, channel_id: str) -> Incident:
    """The incident whose channel this is, or a clear refusal."""
    with ctx.db.session() as session:
        return incident_queries.require_by_channel(session, channel_id)


def change(
    ctx: Context, incident_id: int, fn: Callable[[Session, Incident], T]
) -> tuple[Incident, T]:
    """Apply a service change to the locked incident in one transaction."""
    with ctx.db.session() as session:
        incident = incident_queries.lock(session, incident_id)
        result = fn(session, incident)
        session.flush()
        return incident, result


def change_and_show(
    ctx: Context,
    incident_id: int,
    actor: str,
    fn: Callable[[Session, Incident, datetime], object],
    template: str,
    *,
    announce: bool = False,
    **extra: Any,
) -> None:
    """Apply a change, then tell the channel (and the announcement's thread) and sync."""
    now = ctx.clock.now()
    updated, result = change(ctx, incident_id, lambda s, i: fn(s, i, now))
    text = render(template, actor=actor, incident=updated, change=result, now=now, **extra)
    incident_posts.post_and_sync(ctx, incident_id, text, announce=announce)


def record_command(ctx: Context, channel_id: str, user_id: str, text: str) -> None:
    """Put a command run in an incident channel on that incident's timeline."""
    # Through the process's channel index: an incident channel is known without a query,
    # and any other channel costs one small statement, not an incident row in a session.
    incident_id = ctx.channels.incident_id(channel_id)
    if incident_id is None:
        return
    with ctx.db.session() as session:
        timeline_entries.record(
            session,
            incident_id,
            TimelineKind.COMMAND,
            now=ctx.clock.now(),
            actor=user_id,
            text=text,
            channel_id=channel_id,
        )


def open_form(ctx: Context, trigger_id: str, view: dict[str, Any]) -> None:
    """Open a modal, explaining an expired trigger in plain words."""
    try:
        ctx.slack.open_view(trigger_id, view)
    except SlackCallFailed as exc:
        if exc.error in EXPIRED_TRIGGER_ERRORS:
            raise UserError(
                "Slack took too long to open the form. Please run the command again."
            ) from None
        raise


def person(ctx: Context, user_id: str) -> str:
    """A workspace member who can hold a role or own an action, checked with Slack."""
    user = ctx.slack.user(user_id)
    if user is None:
        raise UserError(f"I cannot find the user <@{user_id}> in this workspace.")
    if user.deleted:
        raise UserError("That account is deactivated.")
    if user.is_bot:
        raise UserError("A bot cannot hold an incident role or own an action.")
    return user.id


# -- forms -------------------------------------------------------------------------------


def open_update_form(ctx: Context, channel_id: str, trigger_id: str) -> None:
    """The structured status update form."""
    incident = incident_in(ctx, channel_id)
    open_update_form_for(ctx, incident, trigger_id)


def open_update_form_for(ctx: Context, incident: Incident, trigger_id: str) -> None:
    """The status update form for an incident (refused once it is resolved)."""
    if not incident.is_open:
        raise UserError(f"{incident.reference} is {incident.status}: reopen it to post updates.")
    open_form(ctx, trigger_id, blocks.update_modal(incident, ctx.policy).to_dict())


def open_resolve_form(ctx: Context, channel_id: str, trigger_id: str) -> None:
    """The resolution form (also to fill in the details once resolved)."""
    incident = incident_in(ctx, channel_id)
    if incident.status == IncidentStatus.CLOSED:
        raise UserError(f"{incident.reference} is closed: reopen it to change it.")
    open_form(ctx, trigger_id, blocks.resolve_modal(incident).to_dict())


def record_update(
    ctx: Context, incident_id: int, actor: str, data: status_updates.UpdateInput
) -> StatusUpdate:
    """Save a submitted status update (before the form closes)."""
    now = ctx.clock.now()
    _, (update, _status_change) = change(
        ctx,
        incident_id,
        lambda s, i: status_updates.post_update(s, i, data, actor=actor, now=now),
    )
    return update


def publish_update(ctx: Context, incident_id: int, update: StatusUpdate) -> None:
    """Post a saved status update in the channel and the announcement's thread; sync."""
    incident, _ = incident_posts.load(ctx, incident_id)
    severity = ctx.policy.severity(incident.severity)
    text = render("status_update.j2", incident=incident, update=update, severity=severity)
    ts = incident_posts.post(ctx, incident, text, kind=MetadataType.UPDATE)
    if ts is not None:
        with ctx.db.session() as session:
            row = session.get(StatusUpdate, update.id)
            if row is not None:
                row.channel_ts = ts
                session.add(row)
    incident_posts.copy_to_announcement(ctx, incident, text)
    incident_posts.sync(ctx, incident_id)


@dataclass(frozen=True)
class Resolution:
    """What a resolve form saved: the incident and the template that tells of it."""

    incident: Incident
    template: str


def record_resolution(
    ctx: Context, incident_id: int, actor: str, fields: dict[str, str]
) -> Resolution:
    """Resolve, or fill in the resolution details of a resolved incident."""
    now = ctx.clock.now()

    def apply(session: Session, incident: Incident) -> str:
        if incident.status == IncidentStatus.CLOSED:
            raise UserError(f"{incident.reference} is closed: reopen it to change it.")
        if incident.status == IncidentStatus.RESOLVED:
            incident_lifecycle.update_resolution(session, incident, actor=actor, now=now, **fields)
            return "resolution_updated.j2"
        incident_lifecycle.resolve(
            session, incident, actor=actor, now=now, policy=ctx.policy, **fields
        )
        return "resolved.j2"

    updated, template = change(ctx, incident_id, apply)
    return Resolution(updated, template)


def publish_resolution(ctx: Context, resolution: Resolution, actor: str) -> None:
    """Tell the channel (and, on a resolve, the announcement's thread) and sync."""
    incident = resolution.incident
    assert incident.id is not None
    severity = ctx.policy.severity(incident.severity)
    text = render(
        resolution.template,
        actor=actor,
        incident=incident,
        severity=severity,
        pir_required=severity.pir_required,
    )
    incident_posts.post_and_sync(
        ctx, incident.id, text, announce=resolution.template == "resolved.j2"
    )


# -- lifecycle ---------------------------------------------------------------------------


def set_status(ctx: Context, channel_id: str, actor: str, target: IncidentStatus) -> None:
    """Move an open incident to another open state."""
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.change_status(s, i, target, actor=actor, now=now),
        "status_changed.j2",
    )


def describe_status(ctx: Context, channel_id: str) -> str:
    """Where the incident stands, and how to move it."""
    incident = incident_in(ctx, channel_id)
    return (
        f"{incident.reference} is *{incident.status}*. Change it with "
        "`/incident status investigating|identified|monitoring|resolved|closed`."
    )


def set_severity(ctx: Context, channel_id: str, actor: str, key: str) -> None:
    """Change the severity; the reminders follow the new one's cadence and targets."""
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.change_severity(
            s, i, key, actor=actor, now=now, policy=ctx.policy
        ),
        "severity_changed.j2",
        announce=True,
        severity=ctx.policy.severity(key),
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
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.change_priority(
            s, i, priority, impact=impact, urgency=urgency, actor=actor, now=now
        ),
        "priority_changed.j2",
        announce=True,
    )


def close(ctx: Context, channel_id: str, actor: str) -> None:
    """Close a resolved incident whose required fields are filled."""
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    severity = ctx.policy.severity(incident.severity)
    change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.close(s, i, actor=actor, now=now, policy=ctx.policy),
        "closed.j2",
        announce=True,
        severity=severity,
        pir_required=severity.pir_required,
    )


def reopen(ctx: Context, channel_id: str, actor: str) -> None:
    """Back to investigating, with a new impact period."""
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.reopen(s, i, actor=actor, now=now, policy=ctx.policy),
        "reopened.j2",
        announce=True,
    )


def set_started(ctx: Context, channel_id: str, actor: str, text: str) -> None:
    """Set when the impact began, read in the person's own timezone."""
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    who = ctx.slack.user(actor)
    when = parse_moment(text, now=ctx.clock.now(), tz=who.tz if who else None)
    change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.set_impact_start(s, i, when, actor=actor, now=now),
        "impact_started.j2",
        started=when,
    )


def add_note(ctx: Context, channel_id: str, actor: str, text: str) -> None:
    """A note on the timeline, echoed in the channel."""
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    now = ctx.clock.now()
    change(ctx, incident.id, lambda s, i: status_updates.add_note(s, i, text, actor=actor, now=now))
    incident_posts.post(ctx, incident, render("note.j2", actor=actor, text=text))


# -- roles -------------------------------------------------------------------------------


def request_role(
    ctx: Context, channel_id: str, actor: str, role: str, user_id: str, trigger_id: str
) -> None:
    """Give someone a role, or ask for a handoff note when someone else holds it."""
    incident = incident_in(ctx, channel_id)
    user_id = person(ctx, user_id)
    with ctx.db.session() as session:
        current = incident_roles.holder(session, incident, role)
    if current is not None and current.user_id != user_id:
        view = blocks.handoff_modal(incident, role, ctx.policy.role_name(role), user_id)
        open_form(ctx, trigger_id, view.to_dict())
        return
    assert incident.id is not None
    assignment = record_role(ctx, incident.id, role, user_id, actor=actor, handoff=None)
    publish_role(ctx, assignment)


@dataclass(frozen=True)
class Assignment:
    """A saved role change, and what the channel and the new holder are told."""

    incident: Incident
    role: str
    user_id: str
    actor: str
    previous: str | None
    handoff: dict[str, str] | None


def record_role(
    ctx: Context,
    incident_id: int,
    role: str,
    user_id: str,
    *,
    actor: str,
    handoff: dict[str, str] | None,
) -> Assignment:
    """Save a role change (the previous holder's assignment ends)."""
    now = ctx.clock.now()
    updated, previous = change(
        ctx,
        incident_id,
        lambda s, i: incident_roles.assign_role(
            s, i, role, user_id, actor=actor, now=now, policy=ctx.policy, handoff=handoff
        ),
    )
    return Assignment(updated, role, user_id, actor, previous, handoff)


def publish_role(ctx: Context, assignment: Assignment) -> None:
    """The Slack side of a role change: invite, announce, brief by DM, sync."""
    incident = assignment.incident
    assert incident.id is not None and incident.channel_id is not None
    ctx.slack.invite(incident.channel_id, [assignment.user_id])
    name = ctx.policy.role_name(assignment.role)
    text = render(
        "role_assigned.j2",
        user=assignment.user_id,
        role_name=name,
        incident=incident,
        previous=assignment.previous,
        actor=assignment.actor,
        handoff=assignment.handoff,
    )
    incident_posts.post_and_sync(ctx, incident.id, text)
    incident_posts.dm(
        ctx,
        assignment.user_id,
        render(
            "role_duties.j2",
            role=ctx.policy.roles[assignment.role],
            incident=disclosure.outside(incident),
            handoff=assignment.handoff if not incident.is_private else None,
            actor=assignment.actor,
        ),
    )


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
