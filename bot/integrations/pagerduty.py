"""PagerDuty's Events API v2: trigger, acknowledge and resolve an alert by its dedup key."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any, Literal

TIMEOUT = 5.0
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
Action = Literal["trigger", "acknowledge", "resolve"]
PagerSeverity = Literal["critical", "error", "warning", "info"]
PAGER_SEVERITIES: tuple[PagerSeverity, ...] = ("critical", "error", "warning", "info")


class PagingError(Exception):
    """An event PagerDuty did not accept; `reason` is fit for a log line and `last_error`."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether sending the same event later may work (unreachable, 429, 5xx)."""
        return self.status is None or self.status == 429 or self.status >= 500


def dedup_key(reference: str) -> str:
    """The one dedup key of an incident: its trigger, acknowledge and resolve share it."""
    return f"incident-bot/{reference}"[:MAX_DEDUP_KEY]


def event(
    *,
    routing_key: str,
    action: Action,
    key: str,
    summary: str,
    source: str,
    severity: PagerSeverity,
    timestamp: datetime,
    component: str | None = None,
    custom_details: dict[str, Any] | None = None,
    links: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """An Events API v2 event; acknowledge and resolve need only the key, but a payload is
    harmless and keeps the alert's summary readable in PagerDuty's log."""
    payload: dict[str, Any] = {
        "summary": summary[:MAX_SUMMARY],
        "source": source[:255],
        "severity": severity,
        "timestamp": timestamp.isoformat(),
        "custom_details": custom_details or {},
    }
    if component:
        payload["component"] = component[:255]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": key[:MAX_DEDUP_KEY],
        "payload": payload,
    }
    if links and action == "trigger":
        body["links"] = links
    return body


def _retry_after(value: str | None) -> timedelta | None:
    if value and value.strip().isdigit():
        return timedelta(seconds=min(int(value.strip()), 3600))
    return None


def _errors(raw: bytes) -> str:
    """What a 400 answer says is wrong with the event."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return raw[:300].decode("utf-8", "replace").strip()
    if not isinstance(answer, dict):
        return ""
    errors = answer.get("errors")
    said = "; ".join(str(e) for e in errors) if isinstance(errors, list) else ""
    return said or str(answer.get("message") or "")


def send(url: str, body: dict[str, Any]) -> str:
    """POST one event; returns the dedup key PagerDuty answered with (202)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - http(s) only
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            raw = response.read()  # 202 Accepted (urllib raises for anything but 2xx)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        if exc.code == 429:
            raise PagingError(
                "PagerDuty is rate-limiting events (429)",
                status=429,
                retry_after=_retry_after(exc.headers.get("Retry-After")),
            ) from None
        detail = _errors(raw)
        raise PagingError(
            f"PagerDuty answered {exc.code}{': ' + detail if detail else ''}", status=exc.code
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PagingError(f"PagerDuty did not answer ({reason})") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {}
    key = answer.get("dedup_key") if isinstance(answer, dict) else None
    return str(key or body["dedup_key"])
