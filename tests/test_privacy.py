"""A private incident never leaves its channel: every ping, DM, listing and export outside it
shows the reference only — no title, no description, no people, no link to its channel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.models import Incident
from bot.policy import Policy
from tests.conftest import make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import reminders_in, reply_to, run_command, sweep_at

TITLE = "Payroll export leaks salaries"
DESCRIPTION = "Finance found other people's payslips in their inbox"


def _policy(fake: FakeSlack, managers: str, cto: str, oncall: str) -> Policy:
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")
    data["contacts"].update({"it_manager": managers, "cto": cto, "ceo": oncall})
    data["severities"]["sev1"]["escalation"] = [
        {"after": "30m", "notify": ["it_manager"]},
        {"after": "1h", "notify": ["cto"], "dm": True},
        {"after": "2h", "notify": ["ceo"], "dm": True},
    ]
    return Policy.model_validate(data)


@pytest.fixture
def setting(fake_slack: FakeSlack, database_url: str, clock: ManualClock) -> Any:
    fake = fake_slack
    managers = fake.add_channel("managers", members=[fake.bob], bot_member=True)
    cto = fake.add_user("cto")
    carol = fake.add_user("carol")
    oncall = fake.add_usergroup("oncall", members=[carol])
    bot = start_bot(fake, database_url, clock=clock, policy=_policy(fake, managers, cto, oncall))
    try:
        yield bot, managers, cto, carol
    finally:
        bot.runtime.stop()


def _leaks(text: str, incident: Incident, fake: FakeSlack) -> list[str]:
    """What of a private incident a text outside its channel gives away."""
    found = []
    for secret in (TITLE, DESCRIPTION, "Payroll", "payslips"):
        if secret in text:
            found.append(secret)
    for person in (fake.alice, fake.bob):  # the reporter and the commander
        if person in text:
            found.append(person)
    assert incident.channel_id is not None
    if incident.channel_id in text:
        found.append("a link to the private channel")
    return found


def _outside_texts(fake: FakeSlack, channel: str) -> list[str]:
    return [m.text for m in fake.messages(channel, system=False) if m.user == fake.bot_user_id]


def test_pings_outside_the_channel_name_only_the_reference(
    setting: Any, clock: ManualClock
) -> None:
    bot, managers, cto, carol = setting
    fake = bot.fake
    incident = bot.declare(
        fake.alice,
        severity="sev1",
        title=TITLE,
        description=DESCRIPTION,
        is_private=["private"],
    )
    assert incident.channel_id is not None
    # Nobody takes it: the response target passes, then every escalation step, then the
    # resolution target (4 h).
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=4, minutes=1))
    inside = reminders_in(fake, incident.channel_id)
    assert any(TITLE in m.text for m in inside)  # members see the whole story
    outside = {
        "contact channel": _outside_texts(fake, managers),
        "CTO's DM": _outside_texts(fake, fake.dm_channel(cto)),
        "on-call group member's DM": _outside_texts(fake, fake.dm_channel(carol)),
        "announcement channel": _outside_texts(fake, fake.incidents),
    }
    assert outside["announcement channel"] == []
    for where in ("contact channel", "CTO's DM", "on-call group member's DM"):
        assert outside[where], f"nothing reached the {where}"
        for text in outside[where]:
            assert f"A private incident ({incident.reference}) needs attention" in text
            assert _leaks(text, incident, fake) == [], (where, text)
    # Each kind of ping reached the contact channel: response, escalation, resolution.
    kinds = " ".join(outside["contact channel"])
    assert "response target" in kinds and "Escalation" in kinds and "resolution target" in kinds


def test_the_resolution_ping_outside_names_no_commander(setting: Any, clock: ManualClock) -> None:
    bot, managers, _, _ = setting
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev1", title=TITLE, is_private=["private"])
    assert incident.channel_id is not None
    run_command(bot, fake.alice, incident.channel_id, f"role commander <@{fake.bob}>")
    wait_for(lambda: (bot.incident(incident.reference) or incident).commander_id == fake.bob)
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=4, minutes=1))
    (inside,) = [
        m.text for m in reminders_in(fake, incident.channel_id) if "resolution target" in m.text
    ]
    assert f"<@{fake.bob}>" in inside  # the commander is pinged where the incident is run
    (outside,) = [t for t in _outside_texts(fake, managers) if "resolution target" in t]
    assert _leaks(outside, incident, fake) == [], outside


def test_direct_messages_about_a_private_incident_carry_no_details(
    setting: Any, clock: ManualClock
) -> None:
    bot, _managers, _cto, carol = setting
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3", title=TITLE, is_private=["private"])
    channel = incident.channel_id
    assert channel is not None
    run_command(bot, fake.alice, channel, f"role commander <@{carol}|carol>")
    duties = wait_for(
        lambda: [m for m in fake.messages(fake.dm_channel(carol)) if "duties" in m.text]
    )
    assert f"a private incident ({incident.reference})" in duties[0].text
    assert _leaks(duties[0].text, incident, fake) == []
    run_command(bot, fake.alice, channel, f"action Rotate the export keys <@{carol}> due today")
    wait_for(lambda: [m for m in fake.messages(channel) if "action #1" in m.text])
    sweep_at(bot, clock, clock.now() + timedelta(days=2))
    overdue = [m.text for m in reminders_in(fake, fake.dm_channel(carol)) if "overdue" in m.text]
    assert overdue and "Rotate the export keys" not in overdue[0]
    assert _leaks(overdue[0], incident, fake) == []
    in_channel = [m.text for m in reminders_in(fake, channel) if "Action #1" in m.text]
    assert "Rotate the export keys" in in_channel[0]


def test_listing_and_exports_keep_private_incidents_private(
    setting: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    bot, _managers, _cto, carol = setting
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3", title=TITLE, is_private=["private"])
    channel = incident.channel_id
    assert channel is not None
    run_command(bot, fake.alice, channel, "action Rotate the export keys")
    wait_for(lambda: [m for m in fake.messages(channel) if "action #1" in m.text])
    # /incident list, asked by someone who is not in the channel.
    elsewhere = fake.add_channel("random", members=[carol])
    listing = reply_to(bot, carol, elsewhere, "list")
    assert incident.reference not in listing and TITLE not in listing
    # The command line.
    monkeypatch.setenv("DATABASE_URL", bot.db.engine.url.render_as_string(hide_password=False))
    assert main(["actions"]) == 0
    out = capsys.readouterr().out
    assert incident.reference in out and "Rotate the export keys" not in out
    assert main(["actions", "--include-private"]) == 0
    assert "Rotate the export keys" in capsys.readouterr().out
    assert main(["pir", incident.reference]) == 2
    assert "private incident" in capsys.readouterr().err
