"""Building the Bolt app and the process's collaborators (nothing is built at import)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.clock import Clock, SystemClock
from bot.context import Context
from bot.db import Database
from bot.handlers import (
    channel_events,
    declare_form,
    lifecycle_commands,
    listener_replies,
    reminder_buttons,
    slash_command,
)
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.slack.gateway import SlackGateway, make_clients
from bot.storable import storable


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: Policy | None = None,
    db: Database | None = None,
) -> Context:
    """The process-wide context from the settings."""
    retrying, creating = make_clients(
        settings.slack_bot_token, settings.slack_api_url, timeout=settings.slack_timeout_seconds
    )
    return Context(
        policy=policy if policy is not None else load_policy(settings.incident_bot_config),
        db=db if db is not None else Database.from_url(settings.database_url),
        slack=SlackGateway(retrying, creating),
        clock=clock if clock is not None else SystemClock(),
    )


def create_app(settings: Settings, ctx: Context) -> App:
    """The Bolt app with every listener registered."""
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        process_before_response=False,
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
    )

    def make_text_storable(body: dict[str, Any], next: Callable[[], Any]) -> Any:
        """Before any listener: every string of the request made storable (see
        `bot.storable`)."""
        storable(body)
        return next()

    app.middleware(make_text_storable)
    for module in (
        channel_events,
        slash_command,
        declare_form,
        lifecycle_commands,
        reminder_buttons,
    ):
        module.register(app, ctx)
    app.error(listener_replies.handle_error(ctx))
    return app
