"""Events API: every event of an incident channel is recorded before it is acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot.context import Context
from bot.flows import event_recording
from bot.ids import COMMAND
from bot.render import render


def register(app: App, ctx: Context) -> None:
    """Record incident-channel events in the inbox middleware; answer mentions."""

    def record_event(body: dict[str, Any], context: BoltContext, next: Callable[[], Any]) -> Any:
        """Store and process an incident channel's event before Bolt acknowledges it."""
        event_recording.record_event(ctx, body, context.bot_user_id)
        return next()

    def handle_recorded_event() -> None:
        """Already recorded by the middleware; registered so Bolt acknowledges quietly."""

    def handle_app_mention_event(event: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        user = event.get("user")
        if not channel or not user:
            return  # other bots' mentions and odd subtypes carry no one to answer
        text = render("mention_help.j2", command=COMMAND)
        ctx.defer(lambda: event_recording.answer_mention(ctx, channel, str(user), text))

    app.middleware(record_event)
    app.event("message")(handle_recorded_event)
    app.event("reaction_added")(handle_recorded_event)
    app.event("reaction_removed")(handle_recorded_event)
    app.event("pin_added")(handle_recorded_event)
    app.event("pin_removed")(handle_recorded_event)
    app.event("app_mention")(handle_app_mention_event)
