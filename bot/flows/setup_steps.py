"""The set-up's steps, one function each: what it does in Slack and what it records.

Each step takes the incident as it stands and returns it with the step's result saved, or
raises `SlackCallFailed`; `channel_setup` decides what runs and what a failure means.
Steps that create something look for what an earlier, failed attempt may have made before
creating it again (the channel by name, a message by its metadata), so nothing is made twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot import blocks
from bot.context import Context
from bot.flows import (
    announcement_channel,
    channel_invites,
    effect_delivery,
    event_recording,
    incident_posts,
)
from bot.ids import MetadataType
from bot.models import Incident
from bot.services import timeline_entries
from bot.slack import targets as slack_targets
from bot.slack.gateway import Channel, SlackCallFailed
from bot.slack.names import channel_name

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 20
# A channel the bot created this long before the incident was declared is not its channel.
ADOPT_WINDOW = timedelta(minutes=5)


def load(ctx: Context, incident_id: int) -> Incident:
    """The incident as the database has it now."""
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise LookupError(f"incident {incident_id} does not exist")
        return incident


def save(ctx: Context, incident_id: int, **fields: Any) -> Incident:
    """Save some of an incident's fields at once; the incident as saved."""
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        for name, value in fields.items():
            setattr(incident, name, value)
        incident.updated_at = ctx.clock.now()
        session.add(incident)
        return incident


def _adoptable(ctx: Context, channel: Channel, incident: Incident) -> bool:
    """Whether an existing channel is the one an earlier attempt made for this incident."""
    if channel.is_archived or channel.creator != ctx.slack.identity().user_id:
        return False
    if channel.created < (incident.declared_at - ADOPT_WINDOW).timestamp():
        return False
    with ctx.db.session() as session:
        owner = session.exec(select(Incident.id).where(Incident.channel_id == channel.id)).first()
    return owner is None or owner == incident.id


def _create_channel(ctx: Context, incident: Incident) -> Channel:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = channel_name(incident.reference, incident.title, attempt)
        try:
            return ctx.slack.create_channel(name, is_private=incident.is_private)
        except SlackCallFailed as exc:
            if exc.error != "name_taken" and not exc.unknown_outcome:
                raise
            existing = ctx.slack.find_channel(name, is_private=incident.is_private)
            if existing is not None and _adoptable(ctx, existing, incident):
                # Its ID, not its name: a channel's name carries the incident's title.
                log.info(
                    "%s: adopting channel %s from an earlier attempt",
                    incident.reference,
                    existing.id,
                )
                return existing
            if exc.error != "name_taken":
                raise
    raise SlackCallFailed("conversations.create", "name_taken")


def post_once(
    ctx: Context,
    incident: Incident,
    channel: str,
    *,
    kind: MetadataType,
    text: str,
    blocks_: list[dict[str, Any]] | None,
    look_first: bool,
    extra: dict[str, Any] | None = None,
    join: bool = False,
) -> tuple[str, str]:
    """Post a set-up message stamped with the incident's reference, unless an earlier
    attempt already did (`incident_posts.post_once`)."""
    return incident_posts.post_once(
        ctx,
        channel,
        text=text,
        blocks_=blocks_,
        event_type=str(kind),
        payload={"reference": incident.reference, **(extra or {})},
        look_first=look_first,
        since=incident.declared_at,
        join=join,
    )


def notify_targets(ctx: Context, incident: Incident) -> list[str]:
    """Slack IDs the severity's notify list resolves to (unset contacts are skipped);
    none when the severity's `notify_via` leaves Slack out (they are emailed instead)."""
    if "slack" not in ctx.policy.channels(incident.severity):
        return []
    notify = ctx.policy.severity(incident.severity).notify
    return slack_targets.resolved(ctx.policy.contacts, notify)


def incident_id(incident: Incident) -> int:
    """A stored incident's ID."""
    assert incident.id is not None
    return incident.id


def _channel_step(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    channel = _create_channel(ctx, incident)
    incident = save(ctx, incident_id(incident), channel_id=channel.id, channel_name=channel.name)
    ctx.channels.remember(channel.id, incident_id(incident))
    # Events of the new channel that reached a replica before it knew the channel.
    event_recording.adopt(ctx, channel.id)
    return incident


def _invite_step(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    outcome = channel_invites.invite(ctx, incident, [incident.reporter_id])
    if outcome.refused:
        raise outcome.refused[0].error
    if outcome.error is not None:
        raise outcome.error
    return save(ctx, incident_id(incident), reporter_invited=True)


def _topic_step(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    assert incident.channel_id is not None
    topic = blocks.topic_text(incident, ctx.policy)
    ctx.slack.set_topic(incident.channel_id, topic)
    saved = save(ctx, incident_id(incident), topic=topic)
    effect_delivery.refresh_if_stale(ctx, incident_id(incident), incident.revision)
    return saved


def _summary_step(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    assert incident.channel_id is not None
    channel = incident.channel_id
    _, ts = post_once(
        ctx,
        incident,
        channel,
        kind=MetadataType.SUMMARY,
        text=blocks.summary_text(incident, ctx.policy),
        blocks_=blocks.as_dicts(blocks.summary_blocks(incident, ctx.policy)),
        look_first=look_first,
    )
    # On a retry the summary may be one an earlier attempt posted, showing an older state.
    shown = None if look_first else incident.revision
    incident = save(ctx, incident_id(incident), summary_ts=ts)
    record_post(ctx, incident, channel, ts, "summary")
    effect_delivery.refresh_if_stale(ctx, incident_id(incident), shown)
    return incident


def _pin_step(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    assert incident.channel_id is not None and incident.summary_ts is not None
    ctx.slack.pin(incident.channel_id, incident.summary_ts)
    return save(ctx, incident_id(incident), summary_pinned=True)


def _announcement_step(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    announcement = announcement_channel.resolve(ctx)
    assert announcement is not None
    blocks_ = blocks.as_dicts(
        blocks.announcement_blocks(incident, ctx.policy, notify_targets(ctx, incident))
    )
    text = blocks.summary_text(incident, ctx.policy)
    channel, ts = post_once(
        ctx,
        incident,
        announcement,
        kind=MetadataType.ANNOUNCEMENT,
        text=text,
        blocks_=blocks_,
        look_first=look_first,
        join=True,  # public channels only; private ones need an invite
    )
    shown = None if look_first else incident.revision  # as for the summary
    incident = save(ctx, incident_id(incident), announcement_channel_id=channel, announcement_ts=ts)
    record_post(ctx, incident, channel, ts, "announcement")
    effect_delivery.refresh_if_stale(ctx, incident_id(incident), shown)
    return incident


RUNNERS: dict[str, Callable[[Context, Incident, bool], Incident]] = {
    "channel": _channel_step,
    "invite": _invite_step,
    "topic": _topic_step,
    "summary": _summary_step,
    "pin": _pin_step,
    "announcement": _announcement_step,
}


def record_post(ctx: Context, incident: Incident, channel: str, ts: str, what: str) -> None:
    """Put one of the bot's own set-up posts on the timeline (once)."""
    bot_user_id = ctx.slack.identity().user_id  # may call Slack once: not inside a transaction
    with ctx.db.session() as session:
        timeline_entries.record_bot_post(
            session,
            incident_id(incident),
            channel_id=channel,
            ts=ts,
            text=f"Posted the {what}",
            bot_user_id=bot_user_id,
            now=ctx.clock.now(),
            kind=what,
        )
