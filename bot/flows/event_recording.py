"""Recording Slack events of incident channels on their timelines, before the ack.

An event of a known incident channel is stored and recorded in one transaction (see
`event_inbox.receive`). An event of a channel that is no incident's yet is held in the
inbox for a while: the channel may be one whose set-up is running on another replica, and
`adopt` records such events once the channel is known.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.context import Context
from bot.services import event_inbox, event_ingest

log = logging.getLogger(__name__)

# Channel types whose events never belong to an incident (incident channels are channels).
NOT_INCIDENT_CHANNEL_TYPES = frozenset({"im", "mpim", "app_home"})


def authorized_bot_user(body: dict[str, Any]) -> str | None:
    """The bot's own user ID as Slack states it in an event's envelope."""
    for authorization in body.get("authorizations") or []:
        if isinstance(authorization, dict) and authorization.get("is_bot"):
            user = authorization.get("user_id")
            if isinstance(user, str) and user:
                return user
    return None


def processor(ctx: Context, bot_user_id: str | None = None) -> event_inbox.Processor:
    """What recording one stored event means: put it on its incident's timeline.

    The bot's own user ID (to tell its posts from people's) comes from the caller or from
    the event's envelope, so recording never needs Slack to answer `auth.test`.
    """

    def process(session: Session, body: dict[str, Any]) -> str:
        event = body.get("event") or {}
        channel = event_ingest.channel_of(event)
        if channel is None:
            return "ignored"
        incident_id = ctx.channels.incident_id(channel, session)
        if incident_id is None:
            return "ignored"
        return event_ingest.ingest(
            session,
            incident_id,
            event,
            now=ctx.clock.now(),
            bot_user_id=bot_user_id or authorized_bot_user(body),
        )

    return process


def record_event(ctx: Context, body: dict[str, Any], bot_user_id: str | None) -> str:
    """Store an Events API delivery of an incident channel (or hold it, see above)."""
    event = body.get("event")
    event_id = body.get("event_id")
    if body.get("type") != "event_callback" or not isinstance(event, dict):
        return "ignored"
    channel = event_ingest.channel_of(event)
    if channel is None or not isinstance(event_id, str):
        return "ignored"
    now = ctx.clock.now()
    incident_id = ctx.channels.incident_id(channel)
    if incident_id is None:
        if event.get("channel_type") in NOT_INCIDENT_CHANNEL_TYPES:
            return "ignored"
        return event_inbox.hold(ctx.db, event_id=event_id, body=body, channel_id=channel, now=now)
    if (
        not ctx.db.is_sqlite
        and event.get("type") == "message"
        and _recorded_at_once(ctx, incident_id, body, bot_user_id, now)
    ):
        return "recorded"
    return event_inbox.receive(
        ctx.db,
        event_id=event_id,
        body=body,
        channel_id=channel,
        now=now,
        process=processor(ctx, bot_user_id),
        # A message lands once under its (channel, ts) key whatever delivers it; reactions
        # and pins need the event_id to tell a retry apart.
        keep=event.get("type") not in ("message", "app_mention"),
    )


def _recorded_at_once(
    ctx: Context,
    incident_id: int,
    body: dict[str, Any],
    bot_user_id: str | None,
    now: datetime,
) -> bool:
    """The common case on PostgreSQL, a new message, in one round trip: its row inserted
    on its own (a message needs no inbox row: its channel-and-ts key dedupes it). Anything
    else, or any failure, goes the inbox's way (`event_inbox.receive`)."""
    try:
        with ctx.db.autocommit() as connection:
            return event_ingest.record_new_message(
                connection,
                incident_id,
                body["event"],
                now=now,
                bot_user_id=bot_user_id or authorized_bot_user(body),
            )
    except Exception:
        log.warning(
            "event %s: the quick path failed; recording it the long way", body.get("event_id")
        )
        return False


def adopt(ctx: Context, channel_id: str | None = None) -> int:
    """Record held events of channels that have become incident channels."""
    return event_inbox.adopt(
        ctx.db, now=ctx.clock.now(), process=processor(ctx), channel_id=channel_id
    )


def answer_mention(ctx: Context, channel: str, user: str, text: str) -> None:
    """Answer an @-mention of the bot, visible to the person only."""
    ctx.slack.post_ephemeral(channel, user, text=text)
