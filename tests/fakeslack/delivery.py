"""Requests Slack sends to apps: signing, HTTP posting, and the payload shapes."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import secrets
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from .state import Channel, Message, User, Workspace

JSONDict = dict[str, Any]
Via = Literal["http", "socket"]
EnvelopeType = Literal["slash_commands", "interactive", "events_api"]

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
TIMEOUT_STATUS = 504


@dataclass
class Delivery:
    """What the app answered to one request Slack sent it."""

    status: int
    body: str | bytes
    json: JSONDict | None
    headers: dict[str, str] = field(default_factory=dict)
    via: Via = "http"
    envelope_id: str | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Whether the app acknowledged the request in time."""
        return self.status == 200 and not self.timed_out


@dataclass
class ActionResult:
    """What a person's (or another app's) action touched, and the event deliveries it caused.

    `message` is the message posted, edited, deleted, reacted to or pinned (for a join or
    leave, Slack's notice); `events` are the events the app was sent (or, with
    deliver=False, would have been sent), in order, with `deliveries` their answers.
    """

    message: Message
    deliveries: list[Delivery]
    events: list[JSONDict] = field(default_factory=list)

    @property
    def ts(self) -> str:
        """The message timestamp."""
        return self.message.ts


# The name of the result before it covered more than posting.
UserPost = ActionResult


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for `body`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(stamp).encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(stamp)}


def _decode(body: bytes) -> tuple[str | bytes, JSONDict | None]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body, None
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return text, parsed if isinstance(parsed, dict) else None


def post_http(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    """POST `body` to the app and wait for its answer (a timeout gives status 504)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"app_url must be an http:// URL, got {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        raw = response.read()
        text, parsed = _decode(raw)
        return Delivery(
            status=response.status,
            body=text,
            json=parsed,
            headers=dict(response.getheaders()),
            via="http",
        )
    except TimeoutError:
        return Delivery(status=TIMEOUT_STATUS, body="", json=None, via="http", timed_out=True)
    finally:
        connection.close()


def encode_http(kind: EnvelopeType, payload: JSONDict) -> tuple[bytes, str]:
    """The body and Content-Type Slack uses to send `payload` over HTTP."""
    if kind == "slash_commands":
        return urllib.parse.urlencode(payload).encode(), "application/x-www-form-urlencoded"
    if kind == "interactive":
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return body.encode(), "application/x-www-form-urlencoded"
    return json.dumps(payload).encode(), "application/json"


def new_event_id() -> str:
    """A fresh Events API event_id such as "Ev0F1A2B3C4D"."""
    return "Ev" + secrets.token_hex(5).upper()


def new_trigger_id() -> str:
    """A fresh trigger_id in Slack's "12345.98765.abcd2358fdea" shape."""
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"


def action_ts() -> str:
    """A timestamp for an action or event, like Slack's "1700000000.123456"."""
    return f"{time.time():.6f}"


def user_ref(ws: Workspace, user: User) -> JSONDict:
    """The `user` object of an interactivity payload."""
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def team_ref(ws: Workspace) -> JSONDict:
    """The `team` object of an interactivity payload."""
    return {"id": ws.team_id, "domain": ws.team_domain}


def channel_name(channel: Channel) -> str:
    """The channel name Slack reports in slash commands and interactions."""
    return "directmessage" if channel.is_im else channel.name


def command_payload(
    ws: Workspace,
    *,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
    verification_token: str,
) -> JSONDict:
    """The form fields of a slash command invocation."""
    return {
        "token": verification_token,
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": channel.id,
        "channel_name": channel_name(channel),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def event_envelope(
    ws: Workspace, event: JSONDict, *, event_id: str, verification_token: str
) -> JSONDict:
    """The event_callback wrapper Slack puts around an event."""
    return {
        "token": verification_token,
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": None,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_urlsafe(24)}",
    }


_MENTION_RE = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def rich_text_blocks(text: str) -> list[JSONDict]:
    """The rich_text block Slack's clients attach to a typed message."""
    elements: list[JSONDict] = []
    position = 0
    for match in _MENTION_RE.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_urlsafe(3),
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


def envelope_id() -> str:
    """A fresh Socket Mode envelope_id."""
    return str(uuid.uuid4())
