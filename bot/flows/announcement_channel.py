"""The channel where new incidents are announced: an ID, or a `#name` looked up once."""

from __future__ import annotations

import logging

from bot.context import Context
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def resolve(ctx: Context) -> str | None:
    """The announcement channel's ID: the policy's, or looked up once by its `#name`.

    A name that matches no channel the bot can see is a `channel_not_found` failure of the
    step that announces (the reporter is told to check the policy).
    """
    configured = ctx.policy.announcement_channel
    if configured is None:
        return None
    return channel_id(ctx, configured)


def channel_id(ctx: Context, configured: str) -> str:
    """A channel the policy names by ID, or by `#name` (looked up once per process)."""
    if not configured.startswith("#"):
        return configured
    with ctx.lock:
        if configured in ctx.resolved_channels:
            return ctx.resolved_channels[configured]
    name = configured.removeprefix("#")
    found = ctx.slack.find_channel(name, is_private=False) or ctx.slack.find_channel(
        name, is_private=True
    )
    if found is None:
        raise SlackCallFailed("conversations.list", "channel_not_found")
    with ctx.lock:
        ctx.resolved_channels[configured] = found.id
    log.info("channel %s is %s", configured, found.id)
    return found.id
