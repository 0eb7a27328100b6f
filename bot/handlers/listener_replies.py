"""Turning errors into a clear private reply to the person who caused them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.context import Context
from bot.errors import UserError
from bot.slack.gateway import SlackCallFailed
from bot.slack.replies import reply_privately

log = logging.getLogger(__name__)


def explain(error: Exception) -> str:
    """What to tell a person about an error (unexpected ones are logged here)."""
    if isinstance(error, UserError):
        return error.message
    if isinstance(error, SlackCallFailed):
        log.warning("Slack call failed in a listener: %s", error)
        if error.transient:
            return (
                f"Slack did not answer in time ({error.error}), so nothing was changed. "
                "Please run it again in a moment."
            )
        return f"Slack refused that ({error.error}), so nothing was changed."
    log.error("Unexpected error in a listener", exc_info=error)
    return "Something went wrong on my side; it is logged. Please try again."


def handle_error(ctx: Context) -> Callable[..., None]:
    """The app-wide error handler for listeners."""

    def handle_listener_error(error: Exception, body: dict[str, Any]) -> None:
        reply_privately(ctx.slack, body, explain(error))

    return handle_listener_error


def defer(
    ctx: Context, body: dict[str, Any], fn: Callable[[], object], *, opens_form: bool = False
) -> None:
    """Run `fn` after the ack, on the work pool, replying privately if it fails. Work that
    opens a form with the request's trigger_id says `opens_form`: it goes to the form pool,
    since Slack honours a trigger_id for only 3 s."""

    def run() -> None:
        try:
            fn()
        except Exception as error:
            reply_privately(ctx.slack, body, explain(error))

    if opens_form:
        ctx.defer_form(run)
    else:
        ctx.defer(run)
