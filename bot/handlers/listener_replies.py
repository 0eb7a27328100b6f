"""Turning errors into a clear private reply to the person who caused them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.webhook import WebhookClient

from bot.context import Context
from bot.errors import UserError
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def explain(error: Exception) -> str:
    """What to tell a person about an error (unexpected ones are logged here)."""
    if isinstance(error, UserError):
        return error.message
    if isinstance(error, SlackCallFailed):
        log.warning("Slack call failed in a listener: %s", error)
        return f"Slack refused that ({error.error}). Please try again in a moment."
    log.error("Unexpected error in a listener", exc_info=error)
    return "Something went wrong on my side; it is logged. Please try again."


def reply_privately(ctx: Context, body: dict[str, Any], text: str) -> None:
    """Answer the person behind a request where only they can see it."""
    response_urls: list[dict[str, Any]] = body.get("response_urls") or [{}]
    response_url = body.get("response_url") or response_urls[0].get("response_url")
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    try:
        if response_url:
            WebhookClient(response_url, timeout=10).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        elif user:
            ctx.slack.post_message(str(user), text=text)
    except Exception:
        log.exception("Could not tell %s about an error", user)


def open_modal(ctx: Context, trigger_id: str, view: dict[str, Any]) -> None:
    """Open a modal, explaining an expired trigger in plain words."""
    try:
        ctx.slack.open_view(trigger_id, view)
    except SlackCallFailed as exc:
        if exc.error in ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"):
            raise UserError(
                "Slack took too long to open the form. Please run the command again."
            ) from None
        raise


def handle_error(ctx: Context) -> Callable[..., None]:
    """The app-wide error handler for listeners."""

    def handle_listener_error(error: Exception, body: dict[str, Any]) -> None:
        reply_privately(ctx, body, explain(error))

    return handle_listener_error


def defer(ctx: Context, body: dict[str, Any], fn: Callable[[], object]) -> None:
    """Run `fn` after the ack, on the work pool, replying privately if it fails."""

    def run() -> None:
        try:
            fn()
        except Exception as error:
            reply_privately(ctx, body, explain(error))

    ctx.defer(run)
