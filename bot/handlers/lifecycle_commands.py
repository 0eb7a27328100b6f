"""Running an incident from its channel: `/incident` subcommands and their modals."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from slack_bolt import Ack, App
from sqlmodel import Session

from bot import blocks
from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_posts as show
from bot.handlers import listener_replies
from bot.handlers.reminder_buttons import run_reminders
from bot.ids import BlockId, CallbackId, MetadataType
from bot.models import Incident, IncidentStatus, TimelineKind
from bot.policy import format_duration
from bot.render import render
from bot.services import (
    incident_lifecycle,
    incident_queries,
    incident_roles,
    status_updates,
    timeline_entries,
)
from bot.services.moments import parse_moment

T = TypeVar("T")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


# -- helpers --------------------------------------------------------------------------


def _incident(ctx: Context, invocation: Invocation) -> Incident:
    with ctx.db.session() as session:
        return incident_queries.require_by_channel(session, invocation.channel_id)


def record_command(ctx: Context, invocation: Invocation, text: str) -> None:
    """Put a command run in an incident channel on that incident's timeline."""
    with ctx.db.session() as session:
        incident = incident_queries.by_channel(session, invocation.channel_id)
        if incident is None or incident.id is None:
            return
        timeline_entries.record(
            session,
            incident.id,
            TimelineKind.COMMAND,
            now=ctx.clock.now(),
            actor=invocation.user_id,
            text=text,
            channel_id=invocation.channel_id,
        )


def _open(ctx: Context, invocation: Invocation, view: dict[str, Any]) -> None:
    listener_replies.open_modal(ctx, invocation.trigger_id, view)


def _change(
    ctx: Context, incident_id: int, fn: Callable[[Session, Incident], T]
) -> tuple[Incident, T]:
    """Run a service change on a fresh copy of the incident in one transaction."""
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise UserError("That incident no longer exists.")
        result = fn(session, incident)
        session.flush()
        return incident, result


def _announce_change(
    ctx: Context,
    invocation: Invocation,
    incident: Incident,
    change: Callable[[Session, Incident, datetime], object],
    template: str,
    *,
    announce: bool = False,
    **extra: Any,
) -> None:
    """Apply a service change, then tell the channel (and the announcement) and sync."""
    assert incident.id is not None
    now = ctx.clock.now()
    updated, result = _change(ctx, incident.id, lambda s, i: change(s, i, now))
    text = render(
        template, actor=invocation.user_id, incident=updated, change=result, now=now, **extra
    )
    show.post_and_sync(ctx, incident.id, text, announce=announce)


def _person(ctx: Context, text: str) -> str:
    """The user ID of a mention a person typed, checked with Slack."""
    match = _MENTION.match(text.strip())
    if match is None:
        raise UserError(
            "Mention the person with @ and pick them from the list: "
            "`/incident role commander @name`."
        )
    user = ctx.slack.user(match.group(1))
    if user is None:
        raise UserError(f"I cannot find the user {text.strip()[:40]} in this workspace.")
    if user.deleted:
        raise UserError("That account is deactivated.")
    if user.is_bot:
        raise UserError("A bot cannot hold an incident role.")
    return user.id


# -- subcommands ----------------------------------------------------------------------


def run_update(ctx: Context, invocation: Invocation) -> None:
    """`update`: the structured status update form."""
    incident = _incident(ctx, invocation)
    if not incident.is_open:
        raise UserError(f"{incident.reference} is {incident.status}: reopen it to post updates.")
    _open(ctx, invocation, blocks.update_modal(incident, ctx.policy).to_dict())


def run_status(ctx: Context, invocation: Invocation) -> None:
    """`status <state>`."""
    incident = _incident(ctx, invocation)
    if not invocation.args:
        raise UserError(
            f"{incident.reference} is *{incident.status}*. Change it with "
            "`/incident status investigating|identified|monitoring|resolved|closed`."
        )
    target = incident_lifecycle.parse_status(invocation.args.split()[0])
    if target == IncidentStatus.RESOLVED:
        run_resolve(ctx, invocation)
        return
    if target == IncidentStatus.CLOSED:
        run_close(ctx, invocation)
        return
    _announce_change(
        ctx,
        invocation,
        incident,
        lambda s, i, now: incident_lifecycle.change_status(
            s, i, target, actor=invocation.user_id, now=now
        ),
        "status_changed.j2",
    )


def run_severity(ctx: Context, invocation: Invocation) -> None:
    """`severity <sev>`."""
    incident = _incident(ctx, invocation)
    if not invocation.args:
        labels = ", ".join(s.label for s in ctx.policy.severities.values())
        raise UserError(f"Give the new severity: `/incident severity <{labels}>`.")
    key = incident_lifecycle.parse_severity(invocation.args.split()[0], ctx.policy)
    _announce_change(
        ctx,
        invocation,
        incident,
        lambda s, i, now: incident_lifecycle.change_severity(
            s, i, key, actor=invocation.user_id, now=now, policy=ctx.policy
        ),
        "severity_changed.j2",
        announce=True,
        severity=ctx.policy.severity(key),
    )


def run_priority(ctx: Context, invocation: Invocation) -> None:
    """`priority P2` or `priority <impact> <urgency>`."""
    incident = _incident(ctx, invocation)
    priority, impact, urgency = incident_lifecycle.parse_priority(invocation.args, ctx.policy)
    _announce_change(
        ctx,
        invocation,
        incident,
        lambda s, i, now: incident_lifecycle.change_priority(
            s, i, priority, impact=impact, urgency=urgency, actor=invocation.user_id, now=now
        ),
        "priority_changed.j2",
        announce=True,
    )


def run_role(ctx: Context, invocation: Invocation) -> None:
    """`role <role> @user`: assign, or hand over with a note when someone holds it."""
    incident = _incident(ctx, invocation)
    words = invocation.args.split()
    if len(words) < 2:
        names = ", ".join(f"`{k.replace('_', '-')}`" for k in ctx.policy.roles)
        raise UserError(f"Usage: `/incident role <role> @person`. Roles: {names}.")
    role = incident_roles.parse_role(" ".join(words[:-1]), ctx.policy)
    user_id = _person(ctx, words[-1])
    with ctx.db.session() as session:
        current = incident_roles.holder(session, incident, role)
    if current is not None and current.user_id != user_id:
        view = blocks.handoff_modal(incident, role, ctx.policy.role_name(role), user_id)
        _open(ctx, invocation, view.to_dict())
        return
    assign(ctx, incident, role, user_id, actor=invocation.user_id, handoff=None)


def assign(
    ctx: Context,
    incident: Incident,
    role: str,
    user_id: str,
    *,
    actor: str,
    handoff: dict[str, str] | None,
) -> None:
    """Give someone a role; tell the channel and brief them by DM."""
    assert incident.id is not None
    now = ctx.clock.now()
    updated, previous = _change(
        ctx,
        incident.id,
        lambda s, i: incident_roles.assign_role(
            s, i, role, user_id, actor=actor, now=now, policy=ctx.policy, handoff=handoff
        ),
    )
    follow_up(ctx, updated, role, user_id, actor=actor, previous=previous, handoff=handoff)


def follow_up(
    ctx: Context,
    incident: Incident,
    role: str,
    user_id: str,
    *,
    actor: str,
    previous: str | None,
    handoff: dict[str, str] | None,
) -> None:
    """The Slack side of a role change: invite, announce, brief, sync."""
    assert incident.id is not None and incident.channel_id is not None
    ctx.slack.invite(incident.channel_id, [user_id])
    name = ctx.policy.role_name(role)
    text = render(
        "role_assigned.j2",
        user=user_id,
        role_name=name,
        incident=incident,
        previous=previous,
        actor=actor,
        handoff=handoff,
    )
    show.post_and_sync(ctx, incident.id, text)
    show.dm(
        ctx,
        user_id,
        render(
            "role_duties.j2",
            role=ctx.policy.roles[role],
            incident=incident,
            handoff=handoff,
            actor=actor,
        ),
    )


def run_note(ctx: Context, invocation: Invocation) -> None:
    """`note <text>`."""
    incident = _incident(ctx, invocation)
    assert incident.id is not None
    now = ctx.clock.now()
    _change(
        ctx,
        incident.id,
        lambda s, i: status_updates.add_note(
            s, i, invocation.args, actor=invocation.user_id, now=now
        ),
    )
    show.post(ctx, incident, render("note.j2", actor=invocation.user_id, text=invocation.args))


def run_resolve(ctx: Context, invocation: Invocation) -> None:
    """`resolve`: the resolution form (also to fill in details once resolved)."""
    incident = _incident(ctx, invocation)
    if incident.status == IncidentStatus.CLOSED:
        raise UserError(f"{incident.reference} is closed: reopen it to change it.")
    _open(ctx, invocation, blocks.resolve_modal(incident).to_dict())


def run_close(ctx: Context, invocation: Invocation) -> None:
    """`close`: only from resolved, with the required fields filled."""
    incident = _incident(ctx, invocation)
    severity = ctx.policy.severity(incident.severity)
    _announce_change(
        ctx,
        invocation,
        incident,
        lambda s, i, now: incident_lifecycle.close(
            s, i, actor=invocation.user_id, now=now, policy=ctx.policy
        ),
        "closed.j2",
        announce=True,
        severity=severity,
        pir_required=severity.pir_required,
    )


def run_reopen(ctx: Context, invocation: Invocation) -> None:
    """`reopen`: back to investigating, with a new impact period."""
    incident = _incident(ctx, invocation)
    _announce_change(
        ctx,
        invocation,
        incident,
        lambda s, i, now: incident_lifecycle.reopen(
            s, i, actor=invocation.user_id, now=now, policy=ctx.policy
        ),
        "reopened.j2",
        announce=True,
    )


def run_started(ctx: Context, invocation: Invocation) -> None:
    """`started <time>`: when the impact began."""
    incident = _incident(ctx, invocation)
    if not invocation.args:
        raise UserError("Give the time the impact started: `/incident started 14:05`.")
    person = ctx.slack.user(invocation.user_id)
    now = ctx.clock.now()
    when = parse_moment(invocation.args, now=now, tz=person.tz if person else None)
    _announce_change(
        ctx,
        invocation,
        incident,
        lambda s, i, now: incident_lifecycle.set_impact_start(
            s, i, when, actor=invocation.user_id, now=now
        ),
        "impact_started.j2",
        started=when,
    )


@dataclass(frozen=True)
class _Row:
    incident: Incident
    severity: str
    age: str


def run_list(ctx: Context, invocation: Invocation) -> None:
    """`list`: open incidents; private ones only for their members."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        open_incidents = incident_queries.list_open(session)
    visible_private: set[str] = set()
    if any(i.is_private for i in open_incidents):
        visible_private = ctx.slack.private_channels_of(invocation.user_id)
    rows = [
        _Row(
            incident=i,
            severity=ctx.policy.severity(i.severity).label,
            age=format_duration(
                timedelta(minutes=max(int((now - i.declared_at).total_seconds() // 60), 1))
            ),
        )
        for i in open_incidents
        if not i.is_private or (i.channel_id is not None and i.channel_id in visible_private)
    ]
    invocation.respond(render("incident_list.j2", rows=rows))


SUBCOMMANDS = [
    Subcommand("update", "update", "post a structured status update (form)", run_update),
    Subcommand(
        "status",
        "status <state>",
        "move the lifecycle: investigating, identified, monitoring, resolved, closed",
        run_status,
    ),
    Subcommand("severity", "severity <sev>", "change the severity (Sev1 to Sev4)", run_severity),
    Subcommand(
        "priority",
        "priority <P1-P4 | impact urgency>",
        "change the priority, directly or from impact and urgency",
        run_priority,
    ),
    Subcommand(
        "role",
        "role <role> @person",
        "assign commander, technical-lead, communications-lead or business-liaison",
        run_role,
    ),
    Subcommand("note", "note <text>", "add a note to the timeline", run_note),
    Subcommand("started", "started <time>", "set when the impact started (`14:05`)", run_started),
    Subcommand("resolve", "resolve", "resolve: resolution, root cause, impact (form)", run_resolve),
    Subcommand("close", "close", "close a resolved incident", run_close),
    Subcommand("reopen", "reopen", "reopen a resolved or closed incident", run_reopen),
    Subcommand("reminders", "reminders", "what reminders are scheduled, and when", run_reminders),
    Subcommand("list", "list", "list the open incidents", run_list),
]


def add_to(registry: Registry) -> None:
    """Register the lifecycle subcommands."""
    for entry in SUBCOMMANDS:
        registry.add(entry)


# -- modal submissions ----------------------------------------------------------------


def register(app: App, ctx: Context) -> None:
    """Listen for the update, resolve and handoff modals."""

    def _incident_of(view: dict[str, Any]) -> int:
        incident_id = blocks.view_metadata(view).get("incident_id")
        if not isinstance(incident_id, int):
            raise UserError("That form is not valid any more.")
        return incident_id

    def handle_update_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        values = blocks.view_values(view)
        user = str(body["user"]["id"])
        now = ctx.clock.now()
        try:
            seconds = int(values.get(BlockId.NEXT_UPDATE) or 0)
            status = IncidentStatus(values.get(BlockId.STATUS) or "")
        except ValueError:
            ack(response_action="errors", errors={BlockId.STATUS: "Choose a status."})
            return
        data = status_updates.UpdateInput(
            status=status,
            what_changed=values.get(BlockId.WHAT_CHANGED, ""),
            impact=values.get(BlockId.CURRENT_IMPACT, ""),
            next_steps=values.get(BlockId.NEXT_STEPS, ""),
            next_update_at=now + timedelta(seconds=max(seconds, 60)),
        )
        try:
            _, (update, _status_change) = _change(
                ctx,
                incident_id,
                lambda s, i: status_updates.post_update(s, i, data, actor=user, now=now),
            )
        except UserError as exc:
            ack(response_action="errors", errors={BlockId.STATUS: exc.message[:150]})
            return
        ack()
        listener_replies.defer(ctx, body, lambda: _post_update(ctx, incident_id, update))

    def handle_resolve_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        values = blocks.view_values(view)
        user = str(body["user"]["id"])
        now = ctx.clock.now()
        fields = {
            "resolution": values.get(BlockId.RESOLUTION, "").strip(),
            "root_cause": values.get(BlockId.ROOT_CAUSE, "").strip(),
            "impact": values.get(BlockId.IMPACT_SUMMARY, "").strip(),
        }
        empty: dict[str, str] = {
            str(block): "Write it down, or leave “To be investigated”."
            for block, key in (
                (BlockId.RESOLUTION, "resolution"),
                (BlockId.ROOT_CAUSE, "root_cause"),
                (BlockId.IMPACT_SUMMARY, "impact"),
            )
            if not fields[key]
        }
        if empty:
            ack(response_action="errors", errors=empty)
            return

        def apply(session: Session, incident: Incident) -> str:
            if incident.status == IncidentStatus.CLOSED:
                raise UserError(f"{incident.reference} is closed: reopen it to change it.")
            if incident.status == IncidentStatus.RESOLVED:
                incident_lifecycle.update_resolution(
                    session, incident, actor=user, now=now, **fields
                )
                return "resolution_updated.j2"
            incident_lifecycle.resolve(
                session, incident, actor=user, now=now, policy=ctx.policy, **fields
            )
            return "resolved.j2"

        try:
            updated, template = _change(ctx, incident_id, apply)
        except UserError as exc:
            ack(response_action="errors", errors={BlockId.RESOLUTION: exc.message[:150]})
            return
        ack()
        severity = ctx.policy.severity(updated.severity)
        text = render(
            template,
            actor=user,
            incident=updated,
            severity=severity,
            pir_required=severity.pir_required,
        )
        listener_replies.defer(
            ctx,
            body,
            lambda: show.post_and_sync(ctx, incident_id, text, announce=template == "resolved.j2"),
        )

    def handle_handoff_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        metadata = blocks.view_metadata(view)
        role, user_id = str(metadata.get("role", "")), str(metadata.get("user", ""))
        if role not in ctx.policy.roles or not user_id:
            ack(response_action="errors", errors={BlockId.KNOWN: "This form is out of date."})
            return
        values = blocks.view_values(view)
        note = {
            "known": values.get(BlockId.KNOWN, "").strip(),
            "in_progress": values.get(BlockId.IN_PROGRESS, "").strip(),
            "pending": values.get(BlockId.PENDING, "").strip(),
        }
        actor = str(body["user"]["id"])
        now = ctx.clock.now()
        try:
            updated, previous = _change(
                ctx,
                incident_id,
                lambda s, i: incident_roles.assign_role(
                    s, i, role, user_id, actor=actor, now=now, policy=ctx.policy, handoff=note
                ),
            )
        except UserError as exc:
            ack(response_action="errors", errors={BlockId.KNOWN: exc.message[:150]})
            return
        ack()
        listener_replies.defer(
            ctx,
            body,
            lambda: follow_up(
                ctx, updated, role, user_id, actor=actor, previous=previous, handoff=note
            ),
        )

    app.view(CallbackId.UPDATE)(handle_update_submission)
    app.view(CallbackId.RESOLVE)(handle_resolve_submission)
    app.view(CallbackId.HANDOFF)(handle_handoff_submission)


def _post_update(ctx: Context, incident_id: int, update: Any) -> None:
    incident, _ = show.load(ctx, incident_id)
    severity = ctx.policy.severity(incident.severity)
    text = render("status_update.j2", incident=incident, update=update, severity=severity)
    ts = show.post(ctx, incident, text, kind=MetadataType.UPDATE)
    if ts is not None:
        with ctx.db.session() as session:
            row = session.get(type(update), update.id)
            if row is not None:
                row.channel_ts = ts
                session.add(row)
    show.copy_to_announcement(ctx, incident, text)
    show.sync(ctx, incident_id)
