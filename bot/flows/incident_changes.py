"""How a change to an incident is made and shown, for every flow that changes one.

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
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from bot.context import Context
from bot.errors import UserError
from bot.flows import effect_delivery
from bot.ids import MetadataType
from bot.models import Incident, TimelineKind
from bot.render import render
from bot.services import (
    disclosure,
    effect_queue,
    incident_queries,
    timeline_entries,
)
from bot.slack.gateway import SlackCallFailed

T = TypeVar("T")


EXPIRED_TRIGGER_ERRORS = ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")


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
    if user is None:
        raise UserError(
            f"I cannot find <@{user_id}> in this workspace: {who.lower()} must be a person "
            "in it, picked with @."
        )
    if user.deleted:
        raise UserError(f"That account is deactivated: {who.lower()} must be a person at work.")
    if user.is_bot:
        raise UserError(f"A bot cannot be {who.lower()}.")
    return user.id


def publish(ctx: Context, effects: list[int]) -> None:
    """Carry out what a saved form owes Slack (after the form has closed)."""
    effect_delivery.deliver(ctx, effects)
