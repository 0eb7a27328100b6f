"""Alerts and operations: maintenance windows, monitoring that goes quiet, replicas racing
on one group, silences when Alertmanager is down, the policy check and the shell."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.alert_policy import RecurringWindow
from bot.cli import main
from bot.clock import ManualClock
from bot.errors import ConfigError
from bot.models import AlertSilence, Incident, ScheduledTask, TaskKind
from bot.policy import load_policy
from bot.services.maintenance_windows import occurrence
from tests.alert_support import alerts_policy, am_alert, am_body, post, post_am
from tests.conftest import Harness, start_bot, wait_for
from tests.support import reply_to, sweep_at
from tests.test_alerts import alert_rows, critical, handled, incidents


def test_a_maintenance_window_sends_declaring_alerts_to_triage(abot: Harness) -> None:
    fake = abot.fake
    created = reply_to(abot, fake.alice, fake.incidents, "maintenance checkout now 1h db upgrade")
    assert created.startswith(":construction: Maintenance window #1 for checkout")
    listed = reply_to(abot, fake.alice, fake.incidents, "maintenance list")
    assert "#1 · checkout" in listed and "(in effect)" in listed and "db upgrade" in listed
    post_am(abot.runtime.port, [critical("Restarting", "7777aaaa")])
    row = handled(abot, 1)[0]
    assert row.action == "triage" and "maintenance window #1" in row.note
    message = wait_for(lambda: [m for m in fake.messages(fake.incidents) if "Restarting" in m.text])
    assert "maintenance window #1" in message[0].text
    assert incidents(abot) == []
    ended = reply_to(abot, fake.alice, fake.incidents, "maintenance end 1")
    assert ended.startswith("Maintenance window #1 has ended")
    post_am(abot.runtime.port, [critical("Restarting", "8888bbbb")])
    wait_for(lambda: incidents(abot))
    bad = reply_to(abot, fake.alice, fake.incidents, "maintenance checkout whenever")
    assert bad.startswith("Write `/incident maintenance <service…> <start> <duration>")


def test_a_recurring_window_is_found_in_its_own_time_zone() -> None:
    window = RecurringWindow.model_validate(
        {"services": ["db"], "at": "sun 02:00", "duration": "2h", "timezone": "Europe/Berlin"}
    )
    # Sunday 2026-11-29 02:30 in Berlin is 01:30 UTC: inside the window.
    start, end = occurrence(window, datetime(2026, 11, 29, 1, 30, tzinfo=UTC))
    assert (start, end) == (
        datetime(2026, 11, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
    )
    # On Thursday, the next one is that Sunday.
    start, _ = occurrence(window, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    assert start == datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def test_silent_monitoring_is_reported_once_and_its_return_too(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    policy = alerts_policy(fake_slack)
    data = policy.model_dump(mode="json")
    data["alerts"]["sources"]["am"]["heartbeat"] = {"expect_every": "5m", "declare": True}
    bot = start_bot(fake_slack, database_url, clock=clock, policy=type(policy).model_validate(data))
    fake = fake_slack
    try:
        watchdog = am_alert("Watchdog", fingerprint="00000000watchdog", severity="none")
        post_am(bot.runtime.port, [watchdog])
        assert handled(bot, 1)[0].action == "heartbeat"
        sweep_at(bot, clock, clock.now() + timedelta(minutes=4))
        assert not [m for m in fake.messages(fake.incidents) if "Monitoring may be down" in m.text]
        sweep_at(bot, clock, clock.now() + timedelta(minutes=2))
        warned = [m for m in fake.messages(fake.incidents) if "Monitoring may be down" in m.text]
        assert len(warned) == 1
        silent = wait_for(lambda: incidents(bot))[0]
        assert silent.title == "Monitoring silent: no heartbeat from am"
        assert silent.severity == "sev2" and silent.reference in warned[0].text
        sweep_at(bot, clock, clock.now() + timedelta(minutes=10))
        assert (
            len([m for m in fake.messages(fake.incidents) if "Monitoring may be down" in m.text])
            == 1
        )
        assert len(incidents(bot)) == 1
        # Alertmanager re-sends the still-firing Watchdog (a new start: a new notification).
        post_am(bot.runtime.port, [dict(watchdog, startsAt="2026-11-26T11:00:00Z")])
        wait_for(
            lambda: [
                m for m in fake.messages(fake.incidents) if "sending heartbeats again" in m.text
            ]
        )
    finally:
        bot.runtime.stop()


def test_replicas_racing_on_one_group_make_one_incident(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    policy = alerts_policy(fake_slack)
    first = start_bot(fake_slack, database_url, clock=clock, policy=policy)
    second = start_bot(fake_slack, database_url, clock=clock, policy=policy)
    try:
        same = [critical("Down", "9999cccc")]
        other = [critical("Slow", "aaaa0000")]
        results: list[Any] = []
        threads = [
            threading.Thread(target=lambda p=port, a=alerts: results.append(post_am(p, a)))
            for port, alerts in (
                (first.runtime.port, same),
                (second.runtime.port, same),
                (first.runtime.port, other),
                (second.runtime.port, other),
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.json["stored"] for r in results) == [0, 0, 1, 1]
        rows = wait_for(
            lambda: (r := alert_rows(first)) and all(x.state == "done" for x in r) and r
        )
        assert len(rows) == 2
        assert len(incidents(first)) == 1
        assert sorted(r.action for r in rows) == ["attached", "declared"]
    finally:
        first.runtime.stop()
        second.runtime.stop()


class _Broken(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b"cluster not ready")

    def log_message(self, *args: object) -> None:
        return


def test_silencing_when_alertmanager_fails_tells_the_person_plainly(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    policy = alerts_policy(fake_slack)
    data = policy.model_dump(mode="json")
    data["alerts"]["sources"]["am"]["alertmanager_url"] = f"http://127.0.0.1:{server.server_port}"
    bot = start_bot(fake_slack, database_url, clock=clock, policy=type(policy).model_validate(data))
    fake = fake_slack
    try:
        post_am(bot.runtime.port, [am_alert("Noisy", fingerprint="bbbb1111", severity="warning")])
        message = wait_for(lambda: [m for m in fake.messages(fake.incidents) if "Noisy" in m.text])[
            0
        ]
        before = len(fake.responses)
        fake.send_block_action(
            fake.alice, "alert_silence", channel_id=fake.incidents, message_ts=message.ts
        )
        reply = wait_for(lambda: fake.responses[before:] or None)[0].body["text"]
        assert reply.startswith(
            "Nothing was silenced: Alertmanager answered 503: cluster not ready"
        )
        assert "Try again" in reply
        with bot.db.session() as session:
            assert session.exec(select(AlertSilence)).all() == []
        # Alertmanager is gone altogether: the same plain answer.
        server.shutdown()
        server.server_close()
        before = len(fake.responses)
        fake.send_block_action(
            fake.alice, "alert_silence", channel_id=fake.incidents, message_ts=message.ts
        )
        reply = wait_for(lambda: fake.responses[before:] or None)[0].body["text"]
        assert reply.startswith("Nothing was silenced: Alertmanager did not answer")
    finally:
        bot.runtime.stop()


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            {
                "sources": {"am": {"format": "alertmanager", "secret_env": "AM_SECRET"}},
                "rules": [
                    {"name": "r", "match": {"service": {"regex": "check(out"}}, "action": "declare"}
                ],
            },
            "alerts.rules.0.match.service",
        ),
        (
            {
                "sources": {"am": {"format": "alertmanager", "secret_env": "AM_SECRET"}},
                "rules": [{"name": "r", "action": "page"}],
            },
            "alerts.rules.0.action",
        ),
        (
            {"sources": {"am": {"format": "nagios", "secret_env": "AM_SECRET"}}},
            "alerts.sources.am.format",
        ),
        (
            {"sources": {"am": {"format": "alertmanager"}}},
            "give exactly one of secret_env",
        ),
        (
            {
                "sources": {"am": {"format": "alertmanager", "secret_env": "AM_SECRET"}},
                "rules": [{"name": "r", "action": "declare", "severity": "sev9"}],
            },
            "alerts.rules.0.severity: 'sev9' is not a severity",
        ),
    ],
)
def test_check_config_refuses_bad_alert_rules_naming_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alerts: dict[str, Any], expected: str
) -> None:
    import yaml

    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump({"announcement_channel": "#incidents", "alerts": alerts}))
    with pytest.raises(ConfigError, match=None) as caught:
        load_policy(path)
    assert expected in str(caught.value)
    assert main(["check-config", str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_check_config_says_which_secret_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "announcement_channel: '#incidents'\n"
        "alerts:\n  sources:\n    am: {format: alertmanager, secret_env: AM_HOOK_SECRET}\n"
    )
    monkeypatch.delenv("AM_HOOK_SECRET", raising=False)
    assert main(["check-config", str(path)]) == 0
    assert "SECRET AM_HOOK_SECRET NOT SET" in capsys.readouterr().out
    monkeypatch.setenv("AM_HOOK_SECRET", "s" * 32)
    assert main(["check-config", str(path)]) == 0
    assert "POST /alerts/am (alertmanager, secret set)" in capsys.readouterr().out


def test_declaring_from_a_shell_is_set_up_by_the_running_bot(
    abot: Harness,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", abot.db.engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("INCIDENT_BOT_CONFIG", raising=False)
    assert (
        main(["declare", "--title", "Slack and Prometheus are both down", "--severity", "sev1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "declared (sev1)" in out
    assert main(["declare", "--title", " ", "--severity", "sev7"]) == 2
    err = capsys.readouterr().err
    assert "Title" in err and "Choose a severity" in err
    incident = wait_for(lambda: incidents(abot))[0]
    assert incident.declared_via == "cli" and incident.reference in out
    with abot.db.session() as session:
        task = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id, ScheduledTask.kind == TaskKind.PROVISION
            )
        ).one()
    sweep_at(abot, clock, max(clock.now(), task.due_at))
    done = wait_for(lambda: abot.incident(incident.reference, done=True))
    assert done.channel_id is not None


def test_an_alert_source_is_served_in_socket_mode_too(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    bot = start_bot(
        fake_slack, database_url, via="socket", clock=clock, policy=alerts_policy(fake_slack)
    )
    try:
        answer = post(
            bot.runtime.port,
            "am",
            am_body([critical("ViaSocketMode", "cccc2222")]),
            {"Authorization": "Bearer alertmanager-test-secret-0123456789"},
        )
        assert answer.status == 200
        assert post(bot.runtime.port, "../slack/events", b"{}").status == 404
        wait_for(lambda: incidents(bot))
    finally:
        bot.runtime.stop()


def test_incident_rows_keep_no_person_for_monitoring(abot: Harness) -> None:
    post_am(abot.runtime.port, [critical("Quiet", "dddd3333")])
    wait_for(lambda: incidents(abot))
    with abot.db.session() as session:
        incident = session.exec(select(Incident)).one()
    assert incident.reporter_id == "" and incident.declared_via == "alerts:am"
    done = wait_for(lambda: abot.incident(incident.reference, done=True))
    assert done.confirmation_sent is False and done.reporter_invited is False
    assert done.setup_problems == {}


def test_old_alerts_no_incident_holds_are_forgotten(abot: Harness, clock: ManualClock) -> None:
    post_am(abot.runtime.port, [am_alert("Chatty", fingerprint="eeee4444", severity="info")])
    post_am(abot.runtime.port, [critical("Kept", "ffff5555")])
    handled(abot, 2)
    wait_for(lambda: incidents(abot))
    sweep_at(abot, clock, clock.now() + timedelta(days=29))
    assert len(alert_rows(abot)) == 2
    sweep_at(abot, clock, clock.now() + timedelta(days=2))
    assert [row.name for row in alert_rows(abot)] == ["Kept"]


def test_a_burst_larger_than_a_batch_is_all_routed_at_once(abot: Harness) -> None:
    alerts = [am_alert("Noise", fingerprint=f"f{n:04d}", severity="info") for n in range(150)]
    assert post_am(abot.runtime.port, alerts).json["stored"] == 150
    rows = handled(abot, 150)  # no sweep runs in this test: the intake drains them all
    assert {row.action for row in rows} == {"dropped"}


class _Forgetful(http.server.BaseHTTPRequestHandler):
    def do_DELETE(self) -> None:
        body = b'"silence not found"'
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def test_expiring_a_silence_alertmanager_forgot_counts_as_done() -> None:
    from bot.integrations import alertmanager

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Forgetful)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        alertmanager.delete_silence(f"http://127.0.0.1:{server.server_port}", None, "abc-123")
    finally:
        server.shutdown()
        server.server_close()
