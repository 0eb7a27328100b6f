"""Building the Bolt app and the process's collaborators (nothing is built at import)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.clock import Clock, SystemClock
from bot.context import Context
from bot.db import Database
from bot.errors import UserError
from bot.handlers import commands, declare, events
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.slack.gateway import SlackCallFailed, SlackGateway, make_clients

log = logging.getLogger(__name__)


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: Policy | None = None,
    db: Database | None = None,
) -> Context:
    """The process-wide context from the settings."""
    retrying, creating = make_clients(settings.slack_bot_token, settings.slack_api_url)
    return Context(
        policy=policy if policy is not None else load_policy(settings.incident_bot_config),
        db=db if db is not None else Database.from_url(settings.database_url),
        slack=SlackGateway(retrying, creating),
        clock=clock if clock is not None else SystemClock(),
    )


def create_app(settings: Settings, ctx: Context) -> App:
    """The Bolt app with every listener registered."""
    app = App(
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        client=WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        process_before_response=False,
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
    )
    for module in (commands, declare, events):
        module.register(app, ctx)
    app.error(_make_error_handler(ctx))
    return app


def _make_error_handler(ctx: Context) -> Any:
    def handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Turn a domain error into a clear private reply; log the rest."""
        if isinstance(error, UserError):
            message = error.message
        elif isinstance(error, SlackCallFailed):
            log.warning("Slack call failed in a listener: %s", error)
            message = f"Slack refused that ({error.error}). Please try again in a moment."
        else:
            log.exception("Unexpected error in a listener", exc_info=error)
            message = "Something went wrong on my side; it is logged. Please try again."
        _reply_privately(ctx, body, message)
        return None

    return handle_error


def _reply_privately(ctx: Context, body: dict[str, Any], text: str) -> None:
    """Answer the person behind a request where only they can see it."""
    response_urls: list[dict[str, Any]] = body.get("response_urls") or [{}]
    response_url = body.get("response_url") or response_urls[0].get("response_url")
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    try:
        if response_url:
            WebhookClient(response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        elif user:
            ctx.slack.post_message(str(user), text=text)
    except Exception:
        log.exception("Could not tell %s about an error", user)
