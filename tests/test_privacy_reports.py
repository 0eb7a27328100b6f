"""What a private incident leaves outside its channel in what the bot writes down for
operators: its log lines name it by reference and its channel by ID, never by the channel's
name (which carries the title)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.scheduler import sweep
from tests.conftest import Harness


def test_adopting_a_private_channel_logs_its_id_not_its_name(
    bot: Harness, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = bot.fake
    caplog.set_level(logging.INFO)
    # Slack makes the channel but the bot does not hear back: the next try adopts it.
    fake.server_error("conversations.create", then_apply=True)
    incident = bot.declare(
        fake.alice, title="Payroll export leaks salaries", is_private=["private"], wait=False
    )

    for _ in range(10):
        clock.advance(timedelta(minutes=16))
        sweep(bot.ctx)
        done = bot.incident(incident.reference)
        if done is not None and done.provisioned_at is not None:
            break
    else:
        raise AssertionError("set-up never completed")
    channel = done.channel_id
    assert channel is not None
    lines = [record.getMessage() for record in caplog.records]
    assert f"{incident.reference}: adopting channel {channel} from an earlier attempt" in lines
    for line in lines:
        assert "payroll" not in line.lower() and "salaries" not in line.lower(), line
