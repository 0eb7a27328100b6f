"""The sweep: emails and pages go out on their own threads first, never behind slow Slack
work, and as many as are due go out in one sweep (at most two of a kind at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.integrations import smtp_mail
from bot.policy import Policy
from bot.scheduler import OUTBOUND_IN_FLIGHT, sweep
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.fakesmtp import MailServer
from tests.support import comms_entries, reminders_in, sweep_at


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailing_bot(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, mail: MailServer
) -> Iterator[Harness]:
    """The bot emailing a Sev2's declaration to the IT manager (a Slack person with a
    profile email), with no sweeper of its own."""
    fake = fake_slack
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")  # type: ignore[attr-defined]
    data["contacts"]["it_manager"] = fake.add_user("manager", email="manager@example.com")
    data["severities"]["sev2"]["notify"] = ["it_manager"]
    bot = start_bot(fake, database_url, clock=clock, policy=Policy.model_validate(data))
    bot.ctx.smtp = smtp_mail.parse_url(mail.url(), "Incident bot <incidents@example.com>")
    try:
        yield bot
    finally:
        bot.runtime.stop()


def test_a_due_email_goes_out_before_slow_slack_work_ends(
    mailing_bot: Harness, clock: ManualClock, mail: MailServer
) -> None:
    bot = mailing_bot
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
    channel = incident.channel_id
    assert channel is not None and bot.ctx.wait_idle()
    fake.delay("chat.postMessage", 3, times=1)  # Slack is slow to take the nag
    clock.set(incident.declared_at + timedelta(hours=1))  # the nag is due, so is the email
    sweeping = threading.Thread(target=sweep, args=(bot.ctx,))
    sweeping.start()
    try:
        wait_for(lambda: mail.received, timeout=2.5)
        assert sweeping.is_alive()  # the slow post is still on its way
    finally:
        sweeping.join()
    assert reminders_in(fake, channel, "status update")
    assert bot.ctx.wait_idle()
    sent = [(c["what"], c["outcome"]) for c in comms_entries(bot, incident)]
    assert sorted(sent) == [("declared", "sent"), ("escalation", "sent")]  # the 30m step too


def test_every_due_email_goes_out_in_one_sweep(
    mailing_bot: Harness, clock: ManualClock, mail: MailServer
) -> None:
    bot = mailing_bot
    fake = bot.fake
    count = OUTBOUND_IN_FLIGHT * 2 + 1
    incidents = [
        bot.declare(fake.alice, severity="sev2", title=f"Outage {n}")  # type: ignore[attr-defined]
        for n in range(count)
    ]
    assert bot.ctx.wait_idle() and mail.received == []
    sweep_at(bot, clock, clock.now())
    assert bot.ctx.wait_idle()
    assert len(mail.received) == count
    for incident in incidents:
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["sent"]
    assert all(bot.ctx.outbound_in_flight(kind) == 0 for kind in ("email", "page"))
