"""Alerts in, end to end: a real Alertmanager process notifies the running bot over its
webhook, and silences made from Slack land in that Alertmanager and end at resolve.

Alertmanager groups by `service` and notifies fast (group_wait 1s, group_interval 2s,
repeat_interval 1s: an unchanged group is sent again every 2s while a test watches).
Alerts are pushed into it with its API v2, as Prometheus would; what the bot did is read
from the fake Slack and the database, and the silences from Alertmanager's own API.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.models import (
    AlertRecord,
    AlertSilence,
    Incident,
    ScheduledTask,
    SilenceState,
    TimelineEvent,
    TimelineKind,
)
from tests.alert_support import AM_SECRET, GENERIC_SECRET, GRAFANA_SECRET, alerts_policy
from tests.conftest import Harness, start_bot, wait_for

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="the Alertmanager binary (prometheus-alertmanager or alertmanager) is not on PATH",
)

CONFIG = """\
route:
  receiver: incident-bot
  group_by: ['service']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1s
receivers:
  - name: incident-bot
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {secret}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _call(url: str, method: str = "GET", body: object = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode()


@dataclass
class Alertmanager:
    """A running `prometheus-alertmanager` and what a test asks of its API."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def push(self, *alerts: dict[str, Any]) -> None:
        """`POST /api/v2/alerts`, as Prometheus sends them."""
        _call(f"{self.url}/api/v2/alerts", "POST", list(alerts))

    def silences(self) -> list[dict[str, Any]]:
        """`GET /api/v2/silences`."""
        found: list[dict[str, Any]] = _call(f"{self.url}/api/v2/silences")
        return found

    def alerts(self) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts`: the alerts it holds, with their silenced state."""
        found: list[dict[str, Any]] = _call(f"{self.url}/api/v2/alerts")
        return found

    def webhook_requests(self) -> int:
        """How many webhook requests it has finished (its own metric)."""
        metrics = str(_call(f"{self.url}/metrics"))
        for line in metrics.splitlines():
            if line.startswith('alertmanager_notification_requests_total{integration="webhook"}'):
                return int(float(line.rsplit(" ", 1)[1]))
        raise AssertionError("Alertmanager exposes no webhook request count")

    def tail(self) -> str:
        """The end of its log, for a failure message."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _start_alertmanager(tmp_path: Path, port: int, webhook: str) -> Alertmanager:
    assert BINARY is not None
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=webhook, secret=AM_SECRET))
    storage = tmp_path / "alertmanager-data"
    storage.mkdir(exist_ok=True)
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", process, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"Alertmanager exited ({process.returncode}):\n{am.tail()}")
        try:
            with urllib.request.urlopen(f"{am.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        wait_for(ready, timeout=20, interval=0.05)
    except BaseException:
        _stop(process)
        raise
    return am


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def stack(fake_slack: Any, database_url: str, tmp_path: Path) -> Iterator[tuple[Harness, Any]]:
    """The bot (real clock, sweeping) with the `am` source silencing in a real Alertmanager
    that notifies it."""
    am_port = _free_port()
    sources = {
        "am": {
            "format": "alertmanager",
            "secret": AM_SECRET,
            "alertmanager_url": f"http://127.0.0.1:{am_port}",
        },
        "grafana": {"format": "grafana", "secret": GRAFANA_SECRET},
        "generic": {"format": "generic", "secret": GENERIC_SECRET},
    }
    policy = alerts_policy(fake_slack, alerts_extra={"sources": sources})
    bot = start_bot(fake_slack, database_url, policy=policy, sweep=True)
    try:
        am = _start_alertmanager(
            tmp_path, am_port, f"http://127.0.0.1:{bot.runtime.port}/alerts/am"
        )
        try:
            yield bot, am
        finally:
            _stop(am.process)
    finally:
        bot.runtime.stop()


def _alert(
    name: str, starts: datetime, *, ends: datetime | None = None, **labels: str
) -> dict[str, Any]:
    """An alert as Prometheus posts it to Alertmanager (`ends`: resolved at that time)."""
    alert: dict[str, Any] = {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} is firing", "description": "details"},
        "startsAt": _stamp(starts),
        "generatorURL": f"http://prometheus.example/graph?g0.expr={name}",
    }
    if ends is not None:
        alert["endsAt"] = _stamp(ends)
    return alert


def _incidents(bot: Harness) -> list[Incident]:
    with bot.db.session() as session:
        return list(session.exec(select(Incident).order_by(col(Incident.id))).all())


def _alert_rows(bot: Harness) -> list[AlertRecord]:
    with bot.db.session() as session:
        return list(session.exec(select(AlertRecord).order_by(col(AlertRecord.id))).all())


def _alert_lines(bot: Harness, incident: Incident) -> list[str]:
    with bot.db.session() as session:
        rows = session.exec(
            select(TimelineEvent)
            .where(
                TimelineEvent.incident_id == incident.id,
                TimelineEvent.kind == TimelineKind.ALERT,
            )
            .order_by(col(TimelineEvent.id))
        ).all()
        return [row.text for row in rows]


def _status(bot: Harness, incident: Incident) -> str | None:
    row = bot.incident(incident.reference)
    return row.status if row is not None else None


def _texts(bot: Harness, channel: str, needle: str) -> list[Any]:
    return [m for m in bot.fake.messages(channel, system=False) if needle in (m.text or "")]


def _declared(bot: Harness) -> Incident:
    """The one incident the alerts declared, once its channel is set up."""

    def found() -> Incident | None:
        incidents = _incidents(bot)
        return bot.incident(incidents[0].reference, done=True) if incidents else None

    return wait_for(found, timeout=15)


def _resolve_form(bot: Harness, user: str, before: int) -> dict[str, Any]:
    view = wait_for(lambda: bot.fake.opened_views(user)[before:] or None)[-1]
    assert view["callback_id"] == "incident_resolve"
    return view


def test_a_group_declares_once_repeats_change_nothing_and_resolving_asks(
    stack: tuple[Harness, Alertmanager],
) -> None:
    bot, am = stack
    fake = bot.fake
    alice = fake.alice  # type: ignore[attr-defined]
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    first = _alert("HighErrorRate", starts, severity="critical", service="checkout")
    second = _alert("HighLatency", starts, severity="critical", service="checkout")

    am.push(first)
    incident = _declared(bot)
    assert incident.title == "HighErrorRate on checkout"
    assert incident.severity == "sev1" and incident.declared_via == "alerts:am"
    assert incident.channel_id is not None
    channel = incident.channel_id

    # The second alert of the group: Alertmanager sends the group again, both alerts.
    am.push(second)
    wait_for(lambda: len(_alert_lines(bot, incident)) == 2, timeout=15)
    board = wait_for(lambda: _texts(bot, channel, "2 firing"), timeout=15)
    assert len(board) == 1
    assert [i.id for i in _incidents(bot)] == [incident.id]
    assert _alert_lines(bot, incident) == [
        "Alert attached: HighErrorRate is firing",
        "Alert attached: HighLatency is firing",
    ]

    # Alertmanager repeats the unchanged group (repeat_interval): nothing new anywhere.
    # Two more requests: the first might still be the one that brought the second alert.
    sent = am.webhook_requests()
    wait_for(lambda: am.webhook_requests() >= sent + 2, timeout=15)
    assert len(_alert_lines(bot, incident)) == 2
    assert len(_alert_rows(bot)) == 2
    assert [i.id for i in _incidents(bot)] == [incident.id]
    assert len(_texts(bot, channel, "firing")) == 1  # the alert list, edited in place

    # Prometheus says both ended: Alertmanager sends them resolved, and the bot asks.
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    am.push(
        _alert("HighErrorRate", starts, ends=ended, severity="critical", service="checkout"),
        _alert("HighLatency", starts, ends=ended, severity="critical", service="checkout"),
    )
    prompt = wait_for(
        lambda: _texts(bot, channel, f"All alerts of *{incident.reference}* are resolved"),
        timeout=15,
    )
    assert len(prompt) == 1
    buttons = [
        element
        for block in prompt[0].blocks or []
        for element in block.get("elements", [])
        if element.get("action_id") == "alerts_resolve"
    ]
    assert len(buttons) == 1 and buttons[0]["value"] == str(incident.id)
    assert sorted(_alert_lines(bot, incident)[2:]) == [
        "Alert resolved: HighErrorRate is firing",
        "Alert resolved: HighLatency is firing",
    ]
    assert len(_incidents(bot)) == 1

    # The button opens the resolve form; submitting it resolves the incident.
    before = len(fake.opened_views(alice))
    delivery = fake.send_block_action(alice, "alerts_resolve", channel_id=channel)
    assert delivery.status == 200, delivery
    view = _resolve_form(bot, alice, before)
    delivery = bot.submit(alice, view, {"resolution": "Rolled back the deploy"})
    assert delivery.status == 200 and not (delivery.json or {}).get("errors"), delivery
    wait_for(lambda: _status(bot, incident) == "resolved")


def test_silencing_an_alert_from_triage_makes_a_silence_in_alertmanager(
    stack: tuple[Harness, Alertmanager],
) -> None:
    bot, am = stack
    fake = bot.fake
    alice = fake.alice  # type: ignore[attr-defined]
    triage = fake.incidents  # type: ignore[attr-defined]
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    labels = {"alertname": "DiskFilling", "severity": "warning", "service": "search"}
    am.push(_alert("DiskFilling", starts, severity="warning", service="search"))

    message = wait_for(lambda: _texts(bot, triage, "DiskFilling is firing"), timeout=15)[0]
    assert not _incidents(bot)
    buttons = [
        element["action_id"]
        for block in message.blocks or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert buttons == ["alert_declare", "alert_attach", "alert_silence", "alert_ignore"]
    delivery = fake.send_block_action(
        alice, "alert_silence", channel_id=triage, message_ts=message.ts
    )
    assert delivery.status == 200, delivery

    silences = wait_for(am.silences, timeout=10)
    assert len(silences) == 1
    silence = silences[0]
    assert silence["status"]["state"] == "active"
    assert {m["name"]: m["value"] for m in silence["matchers"]} == labels
    assert all(m["isEqual"] and not m["isRegex"] for m in silence["matchers"])
    assert alice in silence["createdBy"] and "alice" in silence["createdBy"]
    ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=55) < ends - datetime.now(UTC) <= timedelta(hours=1)
    # Alertmanager now holds the alert as silenced by it.
    held = wait_for(
        lambda: [a for a in am.alerts() if silence["id"] in a["status"]["silencedBy"]],
        timeout=10,
    )
    assert held[0]["labels"] == labels
    # The triage message says who silenced it.
    wait_for(lambda: "silenced" in str(fake.messages(triage)[-1].blocks or "").lower())


def test_an_incident_silence_ends_when_the_incident_resolves(
    stack: tuple[Harness, Alertmanager],
) -> None:
    bot, am = stack
    fake = bot.fake
    alice = fake.alice  # type: ignore[attr-defined]
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    am.push(
        _alert("QueueBacklog", starts, severity="critical", service="billing"),
        _alert("WorkerDown", starts, severity="critical", service="billing"),
    )
    incident = _declared(bot)
    assert incident.channel_id is not None
    channel = incident.channel_id
    wait_for(lambda: _texts(bot, channel, "2 firing"), timeout=15)

    # Slack sends no member_joined_channel: the manifest does not subscribe to it.
    fake.join_channel(alice, channel, deliver=False)
    assert bot.command(alice, channel, "silence 1h").status == 200
    wait_for(lambda: _texts(bot, channel, "silenced 2 alerts"), timeout=10)
    silences = am.silences()
    assert len(silences) == 2
    assert {s["status"]["state"] for s in silences} == {"active"}
    matched = sorted(
        ({m["name"]: m["value"] for m in s["matchers"]} for s in silences),
        key=lambda labels: labels["alertname"],
    )
    assert matched == [
        {"alertname": "QueueBacklog", "severity": "critical", "service": "billing"},
        {"alertname": "WorkerDown", "severity": "critical", "service": "billing"},
    ]
    assert all(incident.reference in s["comment"] and alice in s["createdBy"] for s in silences)

    before = len(fake.opened_views(alice))
    assert bot.command(alice, channel, "resolve").status == 200
    view = _resolve_form(bot, alice, before)
    delivery = bot.submit(alice, view, {"resolution": "Scaled the workers back up"})
    assert delivery.status == 200 and not (delivery.json or {}).get("errors"), delivery

    # The sweeper runs the incident's silence_expire task: Alertmanager expires both.
    def all_expired() -> list[dict[str, Any]] | None:
        found = am.silences()
        return found if {s["status"]["state"] for s in found} == {"expired"} else None

    expired = wait_for(all_expired, timeout=15)
    assert {s["id"] for s in expired} == {s["id"] for s in silences}
    assert len(_incidents(bot)) == 1

    # The bot records each expiry once Alertmanager has answered (just after it did).
    def recorded() -> set[tuple[str, str]] | None:
        with bot.db.session() as session:
            rows = session.exec(select(AlertSilence)).all()
        found = {(row.silence_id, row.state) for row in rows}
        return found if {state for _, state in found} == {SilenceState.EXPIRED} else None

    assert wait_for(recorded, timeout=10) == {(s["id"], SilenceState.EXPIRED) for s in silences}


def test_a_silenced_alert_that_resolves_is_seen_resolved(stack: Any) -> None:
    """Alertmanager mutes a silenced alert's resolved notification too: the bot asks it
    which alerts it still holds, and one that is gone is resolved in the incident."""
    bot, am = stack
    alice = bot.fake.alice
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    am.push(_alert("QueueBacklog", starts, severity="critical", service="billing"))
    incident = _declared(bot)
    channel = incident.channel_id
    assert channel is not None
    wait_for(lambda: _texts(bot, channel, "1 firing"), timeout=15)
    bot.fake.join_channel(alice, channel, deliver=False)
    assert bot.command(alice, channel, "silence 1h").status == 200
    wait_for(lambda: _texts(bot, channel, "silenced 1 alert"), timeout=10)
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    am.push(_alert("QueueBacklog", starts, ends=ended, severity="critical", service="billing"))

    def gone_from_alertmanager() -> bool:
        return not [a for a in am.alerts() if a["labels"]["alertname"] == "QueueBacklog"]

    wait_for(gone_from_alertmanager, timeout=15)
    # The minute between two checks passes.
    with bot.db.session() as session:
        session.execute(
            update(ScheduledTask)
            .where(col(ScheduledTask.kind) == "silenced_check")
            .values(due_at=datetime.now(UTC))
        )
    wait_for(lambda: _texts(bot, channel, "All alerts of"), timeout=15)
    assert _texts(bot, channel, "0 firing · 1 resolved")
