"""Reading alert webhooks: Alertmanager (version 4), Grafana alerting, and our generic JSON.

Each reader turns a request body into `Alert`s, or raises `PayloadError` naming the field
that is missing or wrong. Text is made storable and cut to what the columns hold here, at
the edge; labels and annotations are kept whole (the body is at most 1 MiB).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.models.alert import ALERT_TITLE_MAX, FINGERPRINT_MAX, LINK_MAX
from bot.storable import storable

FIRING = "firing"
RESOLVED = "resolved"
# Alertmanager writes a zero time for "not ended yet".
_ZERO_YEAR = 1


class PayloadError(ValueError):
    """A body that is not a valid alert payload; `field` says where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Alert:
    """One alert, whatever format it came in."""

    fingerprint: str
    status: str
    starts_at: datetime
    ends_at: datetime | None
    name: str
    title: str
    description: str
    severity: str
    service: str
    link: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def field(self, key: str) -> str | None:
        """A label's value, or else the normalised field of that name (`title`, `service`,
        `severity`, `name`, `status`); None when the alert has neither."""
        if key in self.labels:
            return self.labels[key]
        value = {
            "title": self.title,
            "service": self.service,
            "severity": self.severity,
            "name": self.name,
            "alertname": self.name,
            "status": self.status,
        }.get(key)
        return value or None


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return str(storable(value))
    return str(storable(json.dumps(value, ensure_ascii=False, sort_keys=True)))


def _mapping(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(where, "must be an object of names to values")
    return {_text(key)[:200]: _text(item) for key, item in value.items()}


def _time(value: object, where: str, *, required: bool) -> datetime | None:
    if value in (None, ""):
        if required:
            raise PayloadError(where, "is required (an RFC 3339 time)")
        return None
    if not isinstance(value, str):
        raise PayloadError(where, "must be an RFC 3339 time such as 2026-11-26T10:00:00Z")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Go writes up to nine fractional digits; Python reads six.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(where, f"{value[:40]!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return None if moment.year <= _ZERO_YEAR else moment


def _status(value: object, where: str, *, default: str | None = None) -> str:
    if value in (None, "") and default is not None:
        return default
    if not isinstance(value, str) or value.lower() not in (FIRING, RESOLVED):
        raise PayloadError(where, "must be firing or resolved")
    return value.lower()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _fingerprint(value: object, labels: dict[str, str]) -> str:
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return text if len(text) <= FINGERPRINT_MAX else _digest(text)
    # No fingerprint given: the labels identify the alert, as in Alertmanager.
    return _digest(*(f"{k}={v}" for k, v in sorted(labels.items())))[:16]


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("body", "is not valid JSON") from None


def _alert_list(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        raise PayloadError("body", "must be a JSON object")
    alerts = data.get("alerts")
    if alerts is None:
        raise PayloadError("alerts", "is required")
    if not isinstance(alerts, list):
        raise PayloadError("alerts", "must be a list")
    return alerts


def _prometheus_style(raw: bytes, *, link_keys: tuple[str, ...]) -> list[Alert]:
    """Alertmanager's webhook body, and Grafana's, which has the same core."""
    data = _body(raw)
    alerts = []
    for index, item in enumerate(_alert_list(data)):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise PayloadError(where, "must be an object")
        if "labels" not in item:
            raise PayloadError(f"{where}.labels", "is required")
        labels = _mapping(item.get("labels"), f"{where}.labels")
        annotations = _mapping(item.get("annotations"), f"{where}.annotations")
        status = _status(item.get("status"), f"{where}.status")
        starts = _time(item.get("startsAt"), f"{where}.startsAt", required=True)
        assert starts is not None
        ends = _time(item.get("endsAt"), f"{where}.endsAt", required=False)
        name = labels.get("alertname", "")
        title = annotations.get("summary") or annotations.get("title") or name or "Alert"
        link = next((_text(item.get(key)) for key in link_keys if item.get(key)), "")
        alerts.append(
            Alert(
                fingerprint=_fingerprint(item.get("fingerprint"), labels),
                status=status,
                starts_at=starts,
                ends_at=ends if status == RESOLVED else None,
                name=_cut(name, 200),
                title=_cut(" ".join(title.split()), ALERT_TITLE_MAX),
                description=annotations.get("description") or annotations.get("message") or "",
                severity=_cut(labels.get("severity", ""), 40),
                service=_cut(labels.get("service") or labels.get("job") or "", 200),
                link=link[:LINK_MAX],
                labels=labels,
                annotations=annotations,
            )
        )
    return alerts


def read_alertmanager(raw: bytes, now: datetime) -> list[Alert]:
    """Alertmanager's webhook (version 4): `alerts[]` with labels, annotations, times."""
    return _prometheus_style(raw, link_keys=("generatorURL",))


def read_grafana(raw: bytes, now: datetime) -> list[Alert]:
    """Grafana alerting's webhook contact point (Alertmanager's shape, and dashboard links)."""
    return _prometheus_style(raw, link_keys=("panelURL", "dashboardURL", "generatorURL"))


def read_generic(raw: bytes, now: datetime) -> list[Alert]:
    """Our generic JSON: one alert object, or `{"alerts": [...]}` of them.

    Fields: `title` (required), `status` (firing or resolved; default firing), `dedup_key`
    (default: the title and service), `severity`, `service`, `details` (text or an object),
    `link`, `started_at` (default: when received), `labels` (an object).
    """
    data = _body(raw)
    items = _alert_list(data) if isinstance(data, dict) and "alerts" in data else [data]
    alerts = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]" if len(items) > 1 or "alerts" in (data or {}) else "body"
        prefix = "" if where == "body" else f"{where}."
        if not isinstance(item, dict):
            raise PayloadError(where, "must be a JSON object")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            raise PayloadError(f"{prefix}title", "is required (text)")
        labels = _mapping(item.get("labels"), f"{prefix}labels")
        service = _text(item.get("service"))
        severity = _text(item.get("severity"))
        labels = {
            **({"service": service} if service else {}),
            **({"severity": severity} if severity else {}),
            **labels,
        }
        details = item.get("details")
        status = _status(item.get("status"), f"{prefix}status", default=FIRING)
        started = _time(item.get("started_at"), f"{prefix}started_at", required=False) or now
        key = item.get("dedup_key")
        if key is not None and not isinstance(key, str | int):
            raise PayloadError(f"{prefix}dedup_key", "must be text")
        fingerprint = _fingerprint(
            str(key) if key is not None else "", {"title": title.strip(), "service": service}
        )
        text = _text(title)
        alerts.append(
            Alert(
                fingerprint=_text(fingerprint),
                status=status,
                # A resolved notification matches its firing one by key, not by start.
                starts_at=started,
                ends_at=now if status == RESOLVED else None,
                name=_cut(text, 200),
                title=_cut(" ".join(text.split()), ALERT_TITLE_MAX),
                description=_text(details),
                severity=_cut(severity, 40),
                service=_cut(service, 200),
                link=_text(item.get("link"))[:LINK_MAX],
                labels=labels,
                annotations={"details": _text(details)} if details else {},
            )
        )
    return alerts


READERS: dict[str, Callable[[bytes, datetime], list[Alert]]] = {
    "alertmanager": read_alertmanager,
    "grafana": read_grafana,
    "generic": read_generic,
}
