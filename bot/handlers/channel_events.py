"""Events API: every event of an incident channel is recorded before it is acknowledged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot.context import Context
from bot.flows.event_recording import processor
from bot.ids import COMMAND
from bot.render import render
from bot.services import event_inbox, event_ingest

log = logging.getLogger(__name__)


def register(app: App, ctx: Context) -> None:
    """Record incident-channel events in the inbox middleware; answer mentions."""

    def record_event(body: dict[str, Any], context: BoltContext, next: Callable[[], Any]) -> Any:
        """Store and process an incident channel's event before Bolt acknowledges it."""
        if body.get("type") == "event_callback" and isinstance(body.get("event"), dict):
            channel = event_ingest.channel_of(body["event"])
            event_id = body.get("event_id")
            if (
                channel is not None
                and isinstance(event_id, str)
                and ctx.channels.incident_id(channel) is not None
            ):
                event_inbox.receive(
                    ctx.db,
                    event_id=event_id,
                    body=body,
                    channel_id=channel,
                    now=ctx.clock.now(),
                    process=processor(ctx, context.bot_user_id),
                    # A message lands once under its (channel, ts) key whatever delivers
                    # it; reactions and pins need the event_id to tell a retry apart.
                    keep=body["event"].get("type") not in ("message", "app_mention"),
                )
        return next()

    def handle_recorded_event() -> None:
        """Already recorded by the middleware; registered so Bolt acknowledges quietly."""

    def handle_app_mention_event(event: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        user = event.get("user")
        if not channel or not user:
            return  # other bots' mentions and odd subtypes carry no one to answer
        text = render("mention_help.j2", command=COMMAND)
        ctx.defer(lambda: ctx.slack.post_ephemeral(channel, str(user), text=text))

    app.middleware(record_event)
    app.event("message")(handle_recorded_event)
    app.event("reaction_added")(handle_recorded_event)
    app.event("reaction_removed")(handle_recorded_event)
    app.event("pin_added")(handle_recorded_event)
    app.event("pin_removed")(handle_recorded_event)
    app.event("app_mention")(handle_app_mention_event)
