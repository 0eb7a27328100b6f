"""Private replies to the person behind a request: through its response_url, else a DM."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.webhook import WebhookClient

from bot.slack.gateway import SlackGateway

log = logging.getLogger(__name__)


def reply_privately(slack: SlackGateway, body: dict[str, Any], text: str) -> None:
    """Answer the person behind a request where only they can see it (never raises)."""
    response_urls: list[dict[str, Any]] = body.get("response_urls") or [{}]
    response_url = body.get("response_url") or response_urls[0].get("response_url")
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    try:
        if response_url:
            WebhookClient(response_url, timeout=10).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        elif user:
            slack.post_message(str(user), text=text)
    except Exception:
        log.exception("Could not tell %s about an error", user)
