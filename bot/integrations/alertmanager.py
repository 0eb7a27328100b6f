"""Alertmanager's API v2: create a silence, and delete (expire) one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TIMEOUT = 5.0


class AlertmanagerError(Exception):
    """A call to Alertmanager that did not succeed; `reason` is fit to show a person."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether the same call may succeed later (down, overloaded, 5xx, 429)."""
        return self.status is None or self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class Matcher:
    """One label a silence matches, exactly."""

    name: str
    value: str

    def as_api(self) -> dict[str, Any]:
        """The matcher as API v2 takes it."""
        return {"name": self.name, "value": self.value, "isRegex": False, "isEqual": True}


def _request(
    base_url: str, method: str, path: str, token: str | None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    url = base_url.rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace").strip()
        raise AlertmanagerError(
            f"Alertmanager answered {exc.code}{': ' + detail if detail else ''}", status=exc.code
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertmanagerError(f"Alertmanager did not answer ({reason})") from None
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {"items": parsed}


def create_silence(
    base_url: str,
    token: str | None,
    *,
    matchers: list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
) -> str:
    """Create a silence (`POST /api/v2/silences`); returns its ID."""
    body = {
        "matchers": [matcher.as_api() for matcher in matchers],
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": ends_at.isoformat().replace("+00:00", "Z"),
        "createdBy": created_by[:100],
        "comment": comment[:1000],
    }
    answer = _request(base_url, "POST", "/api/v2/silences", token, body)
    silence_id = answer.get("silenceID")
    if not isinstance(silence_id, str) or not silence_id:
        raise AlertmanagerError("Alertmanager did not return a silence ID", status=502)
    return silence_id


def active_fingerprints(base_url: str, token: str | None) -> set[str]:
    """The fingerprints of every alert Alertmanager holds now (firing, silenced or
    inhibited); a resolved alert is no longer among them (`GET /api/v2/alerts`)."""
    answer = _request(base_url, "GET", "/api/v2/alerts", token)
    items = answer.get("items")
    if not isinstance(items, list):
        raise AlertmanagerError("Alertmanager's alert list was not a list", status=502)
    return {
        str(item["fingerprint"])
        for item in items
        if isinstance(item, dict) and item.get("fingerprint")
    }


def delete_silence(base_url: str, token: str | None, silence_id: str) -> None:
    """Expire a silence (`DELETE /api/v2/silence/{id}`); one already gone counts as done."""
    try:
        _request(base_url, "DELETE", f"/api/v2/silence/{silence_id}", token)
    except AlertmanagerError as exc:
        # Alertmanager 0.25 answers an unknown silence with 500 "silence not found" (after
        # a restart without its storage, say): gone is as good as expired.
        if exc.status == 404 or "already expired" in exc.reason or "not found" in exc.reason:
            return
        raise
