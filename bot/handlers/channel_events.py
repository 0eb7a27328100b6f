"""Events API: every event of an incident channel is recorded before it is acknowledged."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.context import Context
from bot.flows import event_recording
from bot.ids import COMMAND
from bot.render import render

# Events the middleware records and nothing else answers: one listener acknowledges them all.
RECORDED_EVENTS = ("message", "reaction_added", "reaction_removed", "pin_added", "pin_removed")
RECORDED_EVENT_TYPES = re.compile(rf"\A(?:{'|'.join(RECORDED_EVENTS)})\Z")


class EventRecorder(Middleware):
    """Records each Events API delivery before any listener runs.

    A class rather than a function: Bolt calls its `process` directly for every request,
    where a function middleware has its arguments built anew each time, so a slash command,
    an action or a view submission passes through at the cost of one dictionary lookup.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        """Store and process an incident channel's event before Bolt acknowledges it."""
        if req.body.get("type") == "event_callback":
            event_recording.record_event(self.ctx, req.body, req.context.bot_user_id)
        return next()


def register(app: App, ctx: Context) -> None:
    """Record incident-channel events in the inbox middleware; answer mentions."""

    def handle_recorded_event() -> None:
        """Already recorded by the middleware; registered so Bolt acknowledges quietly."""

    def handle_app_mention_event(event: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        user = event.get("user")
        if not channel or not user:
            return  # other bots' mentions and odd subtypes carry no one to answer
        text = render("mention_help.j2", command=COMMAND)
        ctx.defer(lambda: event_recording.answer_mention(ctx, channel, str(user), text))

    app.middleware(EventRecorder(ctx))
    # One listener for the five, so that a request of another kind is matched against one
    # listener here rather than five before it reaches its own.
    app.event(RECORDED_EVENT_TYPES)(handle_recorded_event)
    app.event("app_mention")(handle_app_mention_event)
