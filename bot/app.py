"""Building the Bolt app and the process's collaborators (nothing is built at import)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.clock import Clock, SystemClock
from bot.context import Context
from bot.db import Database
from bot.handlers import (
    alert_actions,
    channel_events,
    comms_commands,
    declare_form,
    lifecycle_commands,
    listener_replies,
    process_commands,
    reminder_buttons,
    slash_command,
)
from bot.observability import BotMetrics
from bot.policy import Policy, load_policy
from bot.settings import Settings
from bot.slack.gateway import SlackCallFailed, SlackGateway, make_clients
from bot.storable import storable

log = logging.getLogger(__name__)

# How long requests go on without asking auth.test again after it failed.
IDENTITY_RETRY_SECONDS = 30.0


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: Policy | None = None,
    db: Database | None = None,
) -> Context:
    """The process-wide context from the settings."""
    metrics = BotMetrics()
    retrying, creating = make_clients(
        settings.slack_bot_token,
        settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,
        on_rate_limited=metrics.rate_limited,
    )
    ctx = Context(
        policy=policy if policy is not None else load_policy(settings.incident_bot_config),
        db=db if db is not None else Database.from_url(settings.database_url),
        slack=SlackGateway(retrying, creating),
        clock=clock if clock is not None else SystemClock(),
        metrics=metrics,
        smtp=settings.smtp_server(),
    )
    metrics.watch(ctx.db, ctx.clock.now)
    return ctx


class TextMadeStorable(Middleware):
    """Before any listener: every string of the request made storable (`bot.storable`).

    A class, which Bolt calls directly, rather than a function middleware, whose arguments
    Bolt builds anew for every request.
    """

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        """Clean the parsed body in place, then go on."""
        storable(req.body)
        return next()


def learn_identity(ctx: Context) -> None:
    """Ask Slack who the bot is (`auth.test`), ahead of need; a failure is only logged (it
    is asked again when needed)."""
    try:
        ctx.slack.identity()
    except SlackCallFailed as exc:
        log.warning("auth.test failed (%s): serving requests without the bot's IDs", exc)


def _authorize(token: str, ctx: Context) -> Callable[..., AuthorizeResult]:
    """Bolt's authorization for the one workspace the bot serves, with no Slack call on the
    request path: an acknowledgement must leave within Slack's three seconds. While the bot
    does not know its own IDs yet (`auth.test` failed at start), it asks for them in the
    background, at most every `IDENTITY_RETRY_SECONDS`, and requests go on without them
    rather than telling the person to reinstall the app."""

    asked_at = [float("-inf")]
    lock = threading.Lock()

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        identity = ctx.slack.known_identity
        if identity is None:
            with lock:
                due = time.monotonic() - asked_at[0] > IDENTITY_RETRY_SECONDS
                if due:
                    asked_at[0] = time.monotonic()
            if due:
                ctx.defer(lambda: learn_identity(ctx))
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or (identity.team_id if identity else None),
            bot_token=token,
            bot_user_id=identity.user_id if identity else None,
            bot_id=identity.bot_id if identity else None,
        )

    return authorize


def create_app(settings: Settings, ctx: Context) -> App:
    """The Bolt app with every listener registered."""
    app = App(
        signing_secret=settings.slack_signing_secret,
        # The client Bolt copies for each request: the bot's retry handlers (429, 5xx,
        # dropped connections); the token comes from `authorize`.
        client=WebClient(
            base_url=settings.slack_api_url,
            timeout=settings.slack_timeout_seconds,
            retry_handlers=list(ctx.slack.client.retry_handlers),
        ),
        authorize=_authorize(settings.slack_bot_token, ctx),
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    app.middleware(TextMadeStorable())
    for module in (
        alert_actions,
        channel_events,
        comms_commands,
        slash_command,
        declare_form,
        lifecycle_commands,
        process_commands,
        reminder_buttons,
    ):
        module.register(app, ctx)
    app.error(listener_replies.handle_error(ctx))
    return app
