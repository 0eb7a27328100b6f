"""`/incident role` adds the new holder to the channel the way the set-up adds the reporter:
a refusal is told in plain words and the role still stands; a passing failure is retried."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.clock import ManualClock
from bot.models import RoleAssignment, ScheduledTask, TaskKind, TaskState
from bot.policy import Policy
from bot.scheduler import sweep
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import run_command


def _holder(bot: Harness, incident_id: int | None, role: str) -> str | None:
    with bot.db.session() as session:
        row = session.exec(
            select(RoleAssignment).where(
                RoleAssignment.incident_id == incident_id,
                RoleAssignment.role == role,
                RoleAssignment.ended_at == None,  # noqa: E711 - SQL IS NULL
            )
        ).first()
    return row.user_id if row is not None else None


def test_a_guest_holds_the_role_and_the_channel_is_told_why_they_are_not_in_it(
    bot: Harness,
) -> None:
    fake = bot.fake
    guest = fake.add_user("contractor", is_restricted=True)
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    run_command(bot, fake.alice, channel, f"role tl <@{guest}|contractor>")
    told = wait_for(lambda: [m for m in fake.messages(channel) if "could not be added" in m.text])
    assert f"<@{guest}>" in told[0].text
    assert "because" in told[0].text and "admin" in told[0].text
    wait_for(lambda: [m for m in fake.messages(channel) if "Technical Lead" in m.text])
    assert _holder(bot, incident.id, "technical_lead") == guest
    assert guest not in fake.channels[channel].members
    with bot.db.session() as session:  # a refusal is not retried
        (task,) = session.exec(
            select(ScheduledTask).where(ScheduledTask.kind == TaskKind.ROLE_INVITE)
        ).all()
    assert task.state == TaskState.DONE and task.attempts == 1


def test_a_passing_failure_is_retried_until_the_holder_is_in(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    carol = fake.add_user("carol")
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    fake.server_error("conversations.invite", times=3)  # the client retries twice itself
    run_command(bot, fake.alice, channel, f"role commander <@{carol}|carol>")
    wait_for(lambda: [m for m in fake.messages(channel) if "Incident Commander" in m.text])
    assert _holder(bot, incident.id, "commander") == carol
    assert carol not in fake.channels[channel].members
    clock.advance(timedelta(minutes=1))
    sweep(bot.ctx)
    assert carol in fake.channels[channel].members
    with bot.db.session() as session:
        (task,) = session.exec(
            select(ScheduledTask).where(ScheduledTask.kind == TaskKind.ROLE_INVITE)
        ).all()
    assert task.state == TaskState.DONE and task.key == carol


def test_an_announcement_channel_given_by_name_is_looked_up_once(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    bot = start_bot(
        fake, database_url, clock=clock, policy=make_policy(announcement_channel="#incidents")
    )
    try:
        first = bot.declare(fake.alice, title="First")
        second = bot.declare(fake.alice, title="Second")
        announced = [m.text for m in fake.messages(fake.incidents, system=False)]
        assert any(first.reference in text for text in announced)
        assert any(second.reference in text for text in announced)
        assert first.announcement_channel_id == fake.incidents
        assert len(fake.calls_to("conversations.list")) == 1
    finally:
        bot.runtime.stop()


def test_the_start_log_says_when_nothing_will_be_announced(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    bot = start_bot(fake_slack, database_url, clock=clock, policy=make_policy())
    try:
        assert "no announcement will be made" in caplog.text
        incident = bot.declare(fake_slack.alice)
        assert incident.announcement_ts is None
        assert not [m for m in fake_slack.messages(fake_slack.incidents) if m.user == "UBOT"]
    finally:
        bot.runtime.stop()


def test_the_declare_form_holds_the_largest_policy_slack_allows(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    data = make_policy().model_dump(mode="json")
    for key in ("notify_via", "stakeholders", "status_page"):  # they name the severities
        del data[key]
    data["severities"] = {
        f"level{n}": {
            "label": f"Level {n} " + "x" * 10,
            "definition": "d" * 75,
            "response_target": "1h",
            "resolution_target": "4h",
            "update_interval": "1h",
        }
        for n in range(10)
    }
    data["categories"] = [f"{n:03d}-" + "c" * 36 for n in range(100)]
    policy = Policy.model_validate(data)
    bot = start_bot(fake_slack, database_url, clock=clock, policy=policy)
    try:
        title = "declare " + "t" * 500
        view = bot.open_declare(fake_slack.alice, fake_slack.incidents, title)
        by_block = {b.get("block_id"): b for b in view["blocks"]}
        assert len(by_block["severity"]["element"]["options"]) == 10
        assert len(by_block["category"]["element"]["options"]) == 100
        assert len(by_block["title"]["element"]["initial_value"]) == 150
        assert fake_slack.internal_errors == [] and not fake_slack.warnings
    finally:
        bot.runtime.stop()
