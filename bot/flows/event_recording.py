"""Recording a stored Slack event on its incident's timeline."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.context import Context
from bot.services import event_inbox, event_ingest


def processor(ctx: Context, bot_user_id: str | None) -> event_inbox.Processor:
    """What recording one stored event means: put it on its incident's timeline."""

    def process(session: Session, body: dict[str, Any]) -> str:
        event = body.get("event") or {}
        channel = event_ingest.channel_of(event)
        if channel is None:
            return "ignored"
        incident_id = ctx.channels.incident_id(channel, session)
        if incident_id is None:
            return "ignored"
        return event_ingest.ingest(
            session, incident_id, event, now=ctx.clock.now(), bot_user_id=bot_user_id
        )

    return process
