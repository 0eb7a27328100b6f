"""Email over SMTP, received by a real SMTP server: who gets what, both parts, escaping,
privacy, a refused login, a server that is down, and Slack left out where the policy says."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import scheduler
from bot.cli import main
from bot.clock import ManualClock
from bot.integrations import smtp_mail
from bot.models import Incident, ScheduledTask, TaskKind, TaskState
from bot.policy import Policy
from bot.scheduler import sweep
from bot.services import tasks
from tests.conftest import Harness, make_policy, start_bot
from tests.fakeslack import FakeSlack
from tests.fakesmtp import MailServer, free_port, outward_address
from tests.support import (
    comms_entries,
    reminders_in,
    reply_to,
    resolve_by_form,
    sweep_and_settle,
    tasks_of,
)

SENDER = "Incident bot <incidents@example.com>"
TITLE = "<script>alert(1)</script> & co"


def _policy(fake: FakeSlack, **changes: Any) -> Policy:
    """Sev2 emails the IT manager (a Slack person with a profile email) on declare and the
    CTO (an address in the policy) after 30 minutes."""
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")
    manager = fake.add_user("manager", email="manager@example.com")
    fake.manager = manager  # type: ignore[attr-defined]
    data["contacts"]["it_manager"] = manager
    data["email"] = {"addresses": {"cto": ["cto@example.com"]}, "subject_prefix": "[incident]"}
    data["severities"]["sev2"]["notify"] = ["it_manager"]
    data["severities"]["sev2"]["escalation"] = [{"after": "30m", "notify": ["cto"]}]
    data.update(changes)
    return Policy.model_validate(data)


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


def _bot(fake: FakeSlack, database_url: str, clock: ManualClock, url: str | None) -> Harness:
    bot = start_bot(fake, database_url, clock=clock, policy=_policy(fake))
    bot.ctx.smtp = smtp_mail.parse_url(url, SENDER) if url else None
    return bot


def email_tasks(bot: Harness, incident: Incident, what: str = "declared") -> list[ScheduledTask]:
    """The incident's email tasks whose key says `what` (`declared`, `step`, `resolved`)."""
    return tasks_of(bot, incident, "email", key_contains=f":{what}")


def test_declare_escalation_and_resolve_are_each_emailed_once(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, mail: MailServer
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, mail.url()) as bot:
        incident = bot.declare(
            fake.alice,  # type: ignore[attr-defined]
            severity="sev2",
            title=TITLE,
            description="Checkout <b>down</b> & out",
        )
        sweep_and_settle(bot, clock, incident.declared_at)
        (declared,) = mail.received
        assert declared.rcpt_tos == ["manager@example.com"]
        assert declared.mail_from == "incidents@example.com"
        assert str(declared.message["From"]) == SENDER
        subject = str(declared.message["Subject"]).strip()
        assert subject == f"[incident] Declared: {incident.reference} (Sev2) {TITLE}"
        text, html = declared.part("plain"), declared.part("html")
        assert TITLE in text and "Checkout <b>down</b> & out" in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
        assert "Checkout &lt;b&gt;down&lt;/b&gt; &amp; out" in html
        assert "<script>" not in html and "<b>down" not in html
        assert str(declared.message["Message-ID"]).endswith("@example.com>")
        assert str(declared.message["Auto-Submitted"]) == "auto-generated"
        assert [
            (c["via"], c["what"], c["outcome"], c["to"]) for c in comms_entries(bot, incident)
        ] == [("email", "declared", "sent", ["manager@example.com"])]

        sweep_and_settle(bot, clock, incident.declared_at + timedelta(minutes=30))
        escalation = mail.received[1]
        assert escalation.rcpt_tos == ["cto@example.com"]
        assert str(escalation.message["Subject"]).strip().startswith("[incident] Escalation: ")
        assert "unresolved after 30m" in escalation.part("plain")
        resolve_by_form(bot, incident)
        sweep_and_settle(bot, clock, clock.now())
        resolved = mail.received[2]
        assert sorted(resolved.rcpt_tos) == ["cto@example.com", "manager@example.com"]
        assert str(resolved.message["Subject"]).strip().startswith("[incident] Resolved: ")
        # Nothing goes twice, however often the sweep runs.
        sweep_and_settle(bot, clock, clock.now() + timedelta(hours=5))
        sweep_and_settle(bot, clock, clock.now() + timedelta(hours=5))
        assert len(mail.received) == 3
        outcomes = [(c["what"], c["outcome"]) for c in comms_entries(bot, incident)]
        assert outcomes == [("declared", "sent"), ("escalation", "sent"), ("resolved", "sent")]
        for what in ("declared", "step", "resolved"):
            assert {t.state for t in email_tasks(bot, incident, what)} == {TaskState.DONE}


def test_a_private_incident_is_mailed_as_its_reference_only(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, mail: MailServer
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, mail.url()) as bot:
        incident = bot.declare(
            fake.alice,  # type: ignore[attr-defined]
            severity="sev2",
            title="Payroll export leaked",
            description="Salaries of the finance team",
            is_private=["private"],
        )
        sweep_and_settle(bot, clock, incident.declared_at)
        (sent,) = mail.received
        everything = str(sent.message["Subject"]) + sent.part("plain") + sent.part("html")
        assert incident.reference in everything
        assert "A private incident" in everything
        for secret in ("Payroll", "Salaries", str(incident.channel_id)):
            assert secret not in everything


def test_a_refused_login_is_logged_clearly_and_nothing_is_lost(
    fake_slack: FakeSlack,
    database_url: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_slack
    server = MailServer(login=("bot", "right horse")).start()
    bot = _bot(fake, database_url, clock, server.url("bot", "wrong%20battery"))
    try:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        with caplog.at_level(logging.INFO):
            sweep_and_settle(bot, clock, incident.declared_at)
        assert server.logins and set(server.logins) == {("bot", False)}  # each mechanism
        assert server.received == []
        assert f"SMTP login refused by 127.0.0.1:{server.port} for user 'bot'" in caplog.text
        assert "check SMTP_URL" in caplog.text
        assert "wrong" not in caplog.text and "battery" not in caplog.text
        (task,) = email_tasks(bot, incident)
        assert task.state == TaskState.PENDING
        assert task.last_error is not None and "SMTP login refused" in task.last_error
        assert "battery" not in task.last_error
        assert comms_entries(bot, incident) == []
        # `/incident comms` tells the channel what is failing, and when it is tried again.
        assert incident.channel_id is not None
        shown = reply_to(bot, fake.alice, incident.channel_id, "comms")  # type: ignore[attr-defined]
        assert "Not delivered" in shown and "SMTP login refused" in shown
        assert "battery" not in shown

        # The operator fixes SMTP_URL (a restart reads it again): the email goes, once.
        bot.ctx.smtp = smtp_mail.parse_url(server.url("bot", "right%20horse"), SENDER)
        sweep_and_settle(bot, clock, task.due_at)
        sweep_and_settle(bot, clock, task.due_at + timedelta(minutes=10))
        assert len(server.received) == 1
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["sent"]
    finally:
        bot.runtime.stop()
        server.stop()


def test_a_password_is_never_sent_in_clear_to_another_host(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    fake = fake_slack
    server = MailServer(login=("bot", "right horse"), host=address).start()  # no STARTTLS
    bot = _bot(fake, database_url, clock, server.url("bot", "right%20horse"))
    try:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        sweep_and_settle(bot, clock, incident.declared_at)
        assert server.logins == [] and server.received == []  # the password never went
        (task,) = email_tasks(bot, incident)
        assert task.state == TaskState.PENDING  # kept until SMTP_URL or the server is fixed
        assert task.last_error is not None and "offers no STARTTLS" in task.last_error
        assert "?starttls=optional" in task.last_error
        assert incident.channel_id is not None
        shown = reply_to(bot, fake.alice, incident.channel_id, "comms")  # type: ignore[attr-defined]
        assert "offers no STARTTLS" in shown and "horse" not in shown

        # The operator says the relay is on a trusted network: the email goes, once.
        url = server.url("bot", "right%20horse", query="starttls=optional")
        bot.ctx.smtp = smtp_mail.parse_url(url, SENDER)
        sweep_and_settle(bot, clock, task.due_at)
        assert server.logins == [("bot", True)] and len(server.received) == 1
    finally:
        bot.runtime.stop()
        server.stop()


def test_a_server_that_is_down_is_retried_with_backoff_then_mailed_once(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    port = free_port()  # nothing listens there yet
    bot = _bot(fake, database_url, clock, f"smtp://127.0.0.1:{port}")
    server = MailServer(port)
    try:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        sweep_and_settle(bot, clock, incident.declared_at)
        (task,) = email_tasks(bot, incident)
        assert task.state == TaskState.PENDING and task.attempts == 1
        assert task.last_error is not None
        assert f"cannot send through 127.0.0.1:{port}" in task.last_error
        assert task.due_at == incident.declared_at + timedelta(seconds=5)
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(seconds=6))
        (task,) = email_tasks(bot, incident)
        assert task.attempts == 2
        assert task.due_at == incident.declared_at + timedelta(seconds=16)  # backing off
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(seconds=10))  # not due yet
        assert email_tasks(bot, incident)[0].attempts == 2

        server.start()
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(seconds=16))
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(minutes=1))
        assert len(server.received) == 1
        (task,) = email_tasks(bot, incident)
        assert task.state == TaskState.DONE and task.last_error is None
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["sent"]
    finally:
        bot.runtime.stop()
        server.stop()


def test_a_mail_server_that_hangs_never_holds_up_slack_work(
    fake_slack: FakeSlack,
    database_url: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_slack
    monkeypatch.setattr(smtp_mail, "TIMEOUT", 1.5)
    with socket.socket() as silent:  # takes connections, never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        with _bot(fake, database_url, clock, f"smtp://127.0.0.1:{silent.getsockname()[1]}") as bot:
            incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
            assert incident.channel_id is not None
            clock.set(incident.declared_at + timedelta(hours=1))  # the nag and the email due
            started = time.monotonic()
            sweep(bot.ctx)
            assert time.monotonic() - started < 1.0
            assert reminders_in(fake, incident.channel_id, "status update")
            assert bot.ctx.wait_idle()
            (task,) = email_tasks(bot, incident)
            assert task.state == TaskState.PENDING
            assert task.last_error is not None and "timed out" in task.last_error


def test_a_severity_without_slack_is_emailed_not_pinged(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, mail: MailServer
) -> None:
    fake = fake_slack
    policy = _policy(fake)
    data = policy.model_dump(mode="json")
    data["notify_via"]["sev3"] = ["email"]
    data["severities"]["sev3"]["notify"] = ["it_manager"]
    data["severities"]["sev3"]["escalation"] = [
        {"after": "1h", "notify": ["it_manager"], "dm": True}
    ]
    manager = fake.manager  # type: ignore[attr-defined]
    bot = start_bot(fake, database_url, clock=clock, policy=Policy.model_validate(data))
    bot.ctx.smtp = smtp_mail.parse_url(mail.url(), SENDER)
    try:
        incident = bot.declare(fake.alice, severity="sev3")  # type: ignore[attr-defined]
        channel = incident.channel_id
        assert channel is not None
        announcements = [
            m.text
            for m in fake.messages(fake.incidents, system=False)  # type: ignore[attr-defined]
            if incident.reference in m.text
        ]
        assert announcements and all(f"<@{manager}>" not in t for t in announcements)
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(hours=1))
        (ping,) = [m for m in reminders_in(fake, channel) if "Escalation" in m.text]
        assert f"<@{manager}>" not in ping.text
        assert "it manager (by email)" in ping.text
        assert reminders_in(fake, fake.dm_channel(manager)) == []
        assert [sorted(r.rcpt_tos) for r in mail.received] == [
            ["manager@example.com"],
            ["manager@example.com"],
        ]
        # Both were due in one sweep: sent side by side, in either order.
        assert sorted(c["what"] for c in comms_entries(bot, incident)) == ["declared", "escalation"]
    finally:
        bot.runtime.stop()


def test_without_smtp_the_email_is_set_aside_and_check_config_says_why(
    fake_slack: FakeSlack,
    database_url: str,
    clock: ManualClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_slack
    bot = _bot(fake, database_url, clock, None)
    try:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        sweep_and_settle(bot, clock, incident.declared_at)
        (task,) = email_tasks(bot, incident)
        assert task.state == TaskState.DEAD
        assert task.last_error == "email is off: SMTP_URL is not set"
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["not_configured"]
    finally:
        bot.runtime.stop()

    path = tmp_path / "policy.yml"
    path.write_text("announcement_channel: '#incidents'\n")
    monkeypatch.delenv("SMTP_URL", raising=False)
    monkeypatch.delenv("SMTP_FROM", raising=False)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "email: SMTP_URL is not set: no email will be sent" in out
    monkeypatch.setenv("SMTP_URL", "smtp://bot:s3cr%40t@mail.example.com:587")
    assert main(["check-config", str(path)]) == 0
    assert "email: SMTP_FROM NOT SET" in capsys.readouterr().out
    monkeypatch.setenv("SMTP_FROM", "incidents@example.com")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "email: through mail.example.com:587 (STARTTLS required to log in) as bot" in out
    assert "s3cr" not in out


def test_smtp_settings_are_checked_with_clear_messages() -> None:
    from bot.errors import ConfigError
    from bot.settings import load_settings

    base: dict[str, Any] = {
        "slack_bot_token": "xoxb-1",
        "slack_signing_secret": "s",
        "_env_file": None,
    }
    cases = {
        "http://mail.example.com": "SMTP_URL is invalid: must be smtp://",
        "smtp://:pw@mail.example.com": "SMTP_URL is invalid: has a password but no user",
        "smtp://mail.example.com:99999": "SMTP_URL is invalid: has a port",
        "smtp://": "SMTP_URL is invalid: names no host",
        "smtp://bot:pw@mail.example.com?tls=off": "takes one option, [?]starttls=optional",
        "smtps://bot:pw@mail.example.com?starttls=optional": "is for smtp://",
    }
    for url, expected in cases.items():
        with pytest.raises(ConfigError, match=expected) as caught:
            load_settings(**base, smtp_url=url, smtp_from="incidents@example.com")
        assert "pw" not in str(caught.value)
    with pytest.raises(ConfigError, match="SMTP_FROM is not set"):
        load_settings(**base, smtp_url="smtp://mail.example.com")
    with pytest.raises(ConfigError, match="SMTP_FROM is invalid"):
        load_settings(**base, smtp_url="smtp://mail.example.com", smtp_from="nobody")
    settings = load_settings(
        **base, smtp_url="smtps://bot%40example.com:p%2Fw@mail.example.com", smtp_from=SENDER
    )
    server = settings.smtp_server()
    assert server is not None
    assert (server.host, server.port, server.security) == ("mail.example.com", 465, "tls")
    assert (server.user, server.password) == ("bot@example.com", "p/w")
    assert "p/w" not in repr(server) and "p%2Fw" not in repr(settings)
    assert load_settings(**base).smtp_server() is None
    relay = load_settings(
        **base, smtp_url="smtp://bot:pw@relay.internal?starttls=optional", smtp_from=SENDER
    ).smtp_server()
    assert relay is not None and relay.plain_login and relay.port == 25
    assert "STARTTLS when offered" in relay.describe()


def test_a_sender_whose_claim_ran_out_records_nothing(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    """A process that held the email past its lease (another took it over) says nothing
    about it: the "not sent" entry is the new holder's to write, once."""
    fake = fake_slack
    bot = _bot(fake, database_url, clock, None)  # no SMTP: the email is set aside at once
    try:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        assert bot.ctx.wait_idle()
        (task,) = email_tasks(bot, incident)
        assert task.id is not None
        start = incident.declared_at
        stale = tasks.claim_task(db=bot.db, task_id=task.id, now=start)
        current = tasks.claim_task(
            db=bot.db, task_id=task.id, now=start + tasks.DEFAULT_LEASE + timedelta(seconds=1)
        )
        assert stale is not None and current is not None
        with pytest.raises(tasks.ClaimLost):
            scheduler.RUNNERS[TaskKind.EMAIL](bot.ctx, stale)
        assert comms_entries(bot, incident) == []
        (task,) = email_tasks(bot, incident)
        assert task.state == TaskState.PENDING and task.claim_token == current.token

        scheduler.RUNNERS[TaskKind.EMAIL](bot.ctx, current)
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["not_configured"]
    finally:
        bot.runtime.stop()
