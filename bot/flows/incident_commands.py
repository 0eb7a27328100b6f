"""Running an incident from its channel: each `/incident` subcommand and form as a flow.

A change loads the incident under a row lock (`SELECT … FOR UPDATE` on PostgreSQL; SQLite
lets one writer in at a time with BEGIN IMMEDIATE), applies a service change and, in the
same transaction, records what Slack must show for it (`effect_queue`): the echo in the
channel and under the announcement, a refresh of the pinned summary, topic and
announcement, an invite, a direct message. Only after the commit does it call Slack, to
carry those out (`effect_delivery`); what Slack does not take then, the sweeper does later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from bot import blocks
from bot.context import Context
from bot.errors import UserError
from bot.flows import effect_delivery
from bot.ids import MetadataType
from bot.models import Incident, IncidentStatus, StatusUpdate, TimelineKind
from bot.policy import format_duration
from bot.render import render
from bot.services import (
    disclosure,
    effect_queue,
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


@dataclass(frozen=True)
class Changed(Generic[T]):
    """A committed change: the incident after it, the service's result, and the effects it
    owes Slack (task IDs, in the order they are to run)."""

    incident: Incident
    result: T
    effects: list[int]


Show = Callable[[Session, Incident, T, datetime], list[int]]


def change(
    ctx: Context,
    incident_id: int,
    fn: Callable[[Session, Incident], T],
    show: Show[T] | None = None,
) -> Changed[T]:
    """Apply a service change to the locked incident and record its effects on Slack
    (`show`), all in one transaction; the incident's revision counts the change."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        incident = incident_queries.lock(session, incident_id)
        result = fn(session, incident)
        incident.revision += 1
        session.add(incident)
        session.flush()
        effects = show(session, incident, result, now) if show is not None else []
        return Changed(incident, result, effects)


def echo(
    session: Session,
    incident: Incident,
    text: str,
    now: datetime,
    *,
    announce: bool = False,
    kind: MetadataType = MetadataType.NOTICE,
    update_id: int | None = None,
) -> list[int]:
    """The effects of a change people read about: its post in the channel (and under the
    announcement), then a refresh of the summary, topic and announcement."""
    assert incident.id is not None
    effects = [
        effect_queue.post(
            session,
            incident.id,
            to=effect_queue.CHANNEL,
            text=text,
            now=now,
            kind=kind,
            update_id=update_id,
        )
    ]
    if announce and disclosure.may_announce(incident):
        effects.append(
            effect_queue.post(session, incident.id, to=effect_queue.THREAD, text=text, now=now)
        )
    effects.append(effect_queue.refresh(session, incident.id, now))
    return effects


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
    """Apply a change, tell the channel (and the announcement's thread) and refresh."""
    now = ctx.clock.now()

    def show(session: Session, updated: Incident, result: object, at: datetime) -> list[int]:
        severity = ctx.policy.severity(updated.severity)
        text = render(
            template,
            actor=actor,
            incident=updated,
            change=result,
            now=now,
            severity=severity,
            pir_required=severity.pir_required,
            **extra,
        )
        return echo(session, updated, text, at, announce=announce)

    changed = change(ctx, incident_id, lambda s, i: fn(s, i, now), show)
    effect_delivery.deliver(ctx, changed.effects)


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


def person(ctx: Context, user_id: str, *, who: str = "A role holder") -> str:
    """A workspace member who can hold a role or own an action, checked with Slack; `who`
    names the part in the refusal ("The owner")."""
    user = ctx.slack.user(user_id)
    if user is None or user.deleted or user.is_bot:
        why = "" if user is None else " (a deactivated account)" if user.deleted else " (a bot)"
        raise UserError(f"{who} must be a person in this workspace{why}: pick them with @.")
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
        return echo(
            session,
            incident,
            text,
            at,
            announce=True,
            kind=MetadataType.UPDATE,
            update_id=update.id,
        )

    changed = change(
        ctx,
        incident_id,
        lambda s, i: status_updates.post_update(s, i, data, actor=actor, now=now),
        show,
    )
    return changed.effects


def publish(ctx: Context, effects: list[int]) -> None:
    """Carry out what a saved form owes Slack (after the form has closed)."""
    effect_delivery.deliver(ctx, effects)


def record_resolution(
    ctx: Context, incident_id: int, actor: str, fields: dict[str, str]
) -> list[int]:
    """Resolve, or fill in the resolution details of a resolved incident; returns what the
    change owes Slack."""
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

    def show(session: Session, incident: Incident, template: str, at: datetime) -> list[int]:
        severity = ctx.policy.severity(incident.severity)
        text = render(
            template,
            actor=actor,
            incident=incident,
            severity=severity,
            pir_required=severity.pir_required,
        )
        return echo(session, incident, text, at, announce=template == "resolved.j2")

    return change(ctx, incident_id, apply, show).effects


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
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    change_and_show(ctx, incident.id, actor, fn, template, announce=announce, **extra)


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
    incident = incident_in(ctx, channel_id)
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


def close(ctx: Context, channel_id: str, actor: str) -> None:
    """Close a resolved incident whose required fields are filled."""
    _in_channel(
        ctx,
        channel_id,
        actor,
        lambda s, i, now: incident_lifecycle.close(s, i, actor=actor, now=now, policy=ctx.policy),
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
    incident = incident_in(ctx, channel_id)
    assert incident.id is not None
    now = ctx.clock.now()
    note = render("note.j2", actor=actor, text=text)
    changed = change(
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
    incident = incident_in(ctx, channel_id)
    user_id = person(ctx, user_id)
    with ctx.db.session() as session:
        current = incident_roles.holder(session, incident, role)
    if current is not None and current.user_id != user_id:
        view = blocks.handoff_modal(incident, role, ctx.policy.role_name(role), user_id)
        open_form(ctx, trigger_id, view.to_dict())
        return
    assert incident.id is not None
    publish(ctx, record_role(ctx, incident.id, role, user_id, actor=actor, handoff=None))


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
            *echo(session, incident, text, at),
            effect_queue.post(session, incident.id, to=user_id, text=duties, now=at),
        ]

    return change(
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
