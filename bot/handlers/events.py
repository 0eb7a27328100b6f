"""Events API listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.context import Context
from bot.ids import COMMAND
from bot.render import render


def register(app: App, ctx: Context) -> None:
    """Listen for mentions of the bot: it answers with how to use it."""

    def handle_app_mention_event(event: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        user = event.get("user")
        if not channel or not user:
            return  # other bots' mentions and odd subtypes carry no one to answer
        text = render("mention_help.j2", command=COMMAND)
        ctx.defer(lambda: ctx.slack.post_ephemeral(channel, str(user), text=text))

    app.event("app_mention")(handle_app_mention_event)
