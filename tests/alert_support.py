"""Sending alerts to the running bot the way monitoring does, and policies that take them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.policy import Policy
from bot.web.alert_intake import sign
from tests.conftest import make_policy

AM_SECRET = "alertmanager-test-secret-0123456789"
GRAFANA_SECRET = "grafana-test-secret-0123456789"
GENERIC_SECRET = "generic-test-secret-0123456789"


def alerts_policy(fake: Any, *, rules: list[dict[str, Any]] | None = None, **extra: Any) -> Policy:
    """The default policy with three sources (one per format) and the given rules."""
    alerts: dict[str, Any] = {
        "sources": {
            "am": {"format": "alertmanager", "secret": AM_SECRET},
            "grafana": {"format": "grafana", "secret": GRAFANA_SECRET},
            "generic": {"format": "generic", "secret": GENERIC_SECRET},
        },
        "rules": rules
        if rules is not None
        else [
            {
                "name": "critical",
                "match": {"severity": "critical"},
                "action": "declare",
                "severity": "sev1",
                "category": "software",
                "title": "{{ labels.alertname }} on {{ labels.service }}",
                "group_by": ["service"],
            },
            {"name": "noise", "match": {"severity": "info"}, "action": "drop"},
        ],
        **extra.pop("alerts_extra", {}),
    }
    return make_policy(announcement_channel=fake.incidents, alerts=alerts, **extra)


def am_alert(
    name: str,
    *,
    fingerprint: str,
    status: str = "firing",
    starts: datetime | None = None,
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager's webhook carries it."""
    starts = starts or datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} is firing", "description": "details"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": (
            (starts + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
            if status == "resolved"
            else "0001-01-01T00:00:00Z"
        ),
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def am_body(alerts: list[dict[str, Any]], *, group: str = '{}:{service="checkout"}') -> bytes:
    """An Alertmanager webhook body (version 4)."""
    firing = any(a["status"] == "firing" for a in alerts)
    return json.dumps(
        {
            "version": "4",
            "groupKey": group,
            "truncatedAlerts": 0,
            "status": "firing" if firing else "resolved",
            "receiver": "incident-bot",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example",
            "alerts": alerts,
        }
    ).encode()


@dataclass
class Answer:
    """The bot's answer to a webhook."""

    status: int
    json: dict[str, Any]


def post(port: int, source: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    """POST a body to `/alerts/<source>`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/alerts/{source}", data=body, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, json.loads(exc.read() or b"{}"))


def post_am(port: int, alerts: list[dict[str, Any]], *, secret: str = AM_SECRET) -> Answer:
    """Send Alertmanager's webhook with its bearer secret."""
    return post(port, "am", am_body(alerts), {"Authorization": f"Bearer {secret}"})


def post_generic(port: int, payload: dict[str, Any], *, at: int | None = None) -> Answer:
    """Send the generic format, signed."""
    body = json.dumps(payload).encode()
    stamp = at if at is not None else int(time.time())
    return post(
        port,
        "generic",
        body,
        {"X-Alert-Timestamp": str(stamp), "X-Alert-Signature": sign(GENERIC_SECRET, stamp, body)},
    )
