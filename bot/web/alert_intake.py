"""`POST /alerts/<source>`: authenticate, read, store, reply; the routing comes after.

Alertmanager sends `Authorization: Bearer <secret>` (its `http_config.authorization`);
Grafana sends basic auth (any user name, the secret as password) or the same bearer
header; the generic format signs `v0:<timestamp>:<body>` with HMAC-SHA256 in
`X-Alert-Signature: v0=<hex>`, beside `X-Alert-Timestamp` (seconds; 5 minutes of leeway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.alert_policy import Source
from bot.services.alert_formats import READERS, Alert, PayloadError

log = logging.getLogger(__name__)

PREFIX = "/alerts/"
MAX_BODY = 1024 * 1024
REPLAY_WINDOW = 300  # seconds


@dataclass(frozen=True)
class Reply:
    """What to answer the sender."""

    status: int
    body: dict[str, Any]


class Intake(Protocol):
    """What the endpoint needs of the running bot."""

    @property
    def sources(self) -> dict[str, Source]:
        """The configured alert sources, by name."""

    def now(self) -> datetime:
        """The current time."""

    def store(self, source: str, alerts: list[Alert]) -> tuple[int, int]:
        """Store alerts durably; how many were new and how many seen before."""


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def _same(given: str | None, secret: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


def authenticated(source: Source, headers: dict[str, str], body: bytes, *, now: datetime) -> bool:
    """Whether the request carries the source's secret in the way its format sends it."""
    secret = source.secret_value()
    if secret is None:
        return False
    authorization = headers.get("authorization", "")
    if source.format in ("alertmanager", "grafana"):
        if _same(_bearer(authorization), secret):
            return True
        return source.format == "grafana" and _same(_basic_password(authorization), secret)
    timestamp = headers.get("x-alert-timestamp", "")
    signature = headers.get("x-alert-signature", "")
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - sent) > REPLAY_WINDOW:
        return False
    expected = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return _same(signature, "v0=" + expected.hexdigest())


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The generic format's signature header value (for senders, and the tests)."""
    digest = hmac.new(
        secret.encode(), b"v0:" + str(timestamp).encode() + b":" + body, hashlib.sha256
    )
    return "v0=" + digest.hexdigest()


def handle(
    intake: Intake,
    *,
    name: str,
    method: str,
    headers: dict[str, str],
    length: int,
    read: Callable[[int], bytes],
) -> Reply:
    """Answer one request to `/alerts/<name>`."""
    source = intake.sources.get(name)
    now = intake.now()
    if source is None:
        return Reply(404, {"ok": False, "error": f"no alert source called {name[:40]!r}"})
    if method != "POST":
        return Reply(405, {"ok": False, "error": "use POST"})
    if length > MAX_BODY:
        return Reply(413, {"ok": False, "error": "body over 1 MiB"})
    body = read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return Reply(413, {"ok": False, "error": "body over 1 MiB"})
    if not authenticated(source, headers, body, now=now):
        if source.secret_value() is None:
            log.error("alert source %s: its secret (%s) is not set", name, source.secret_env)
        return Reply(401, {"ok": False, "error": "missing or wrong credentials"})
    try:
        alerts = READERS[source.format](body, now)
    except PayloadError as exc:
        return Reply(400, {"ok": False, "error": str(exc), "field": exc.field})
    stored, duplicates = intake.store(name, alerts)
    return Reply(200, {"ok": True, "stored": stored, "duplicates": duplicates})
