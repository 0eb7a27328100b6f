"""What the bot keeps and says about people's words: no message text, token or request
body in logs or stored errors; dates read where the person is."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.cli import configure_logging
from bot.clock import ManualClock
from bot.models import ActionItem, InboxEvent, ScheduledTask, TaskKind
from tests.conftest import BOT_TOKEN, Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import run_command

MARKER = "SECRET-MARKER-7731"
WORDS = f"our db password is hunter2 {MARKER}"


def _fail_inserts_of_the_marker(bot: Harness) -> None:
    with bot.db.engine.begin() as connection:
        if bot.db.is_sqlite:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON timeline_event "
                    f"WHEN NEW.text LIKE '%{MARKER}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text LIKE '%{MARKER}%' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON timeline_event "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


def test_a_failed_event_logs_and_stores_no_message_text(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    _fail_inserts_of_the_marker(bot)
    caplog.set_level(logging.DEBUG)
    post = fake.post_user_message(fake.alice, channel, WORDS)
    assert all(d.status == 200 for d in post.deliveries)  # kept in the inbox to retry
    with bot.db.session() as session:
        (row,) = session.exec(select(InboxEvent).where(InboxEvent.state == "pending")).all()
    assert "refused" in (row.last_error or "")
    for where, found in (("log", caplog.text), ("stored error", row.last_error or "")):
        assert MARKER not in found and "hunter2" not in found, where
    assert row.event_id in caplog.text  # the event is named by its ID


def test_slack_sdk_debug_output_never_reaches_the_logs(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    bot.declare(bot.fake.alice, title=WORDS)
    assert bot.fake.calls_to("chat.postMessage")
    assert BOT_TOKEN not in caplog.text
    assert MARKER not in caplog.text


def test_due_dates_are_read_in_the_persons_timezone(
    fake_slack: FakeSlack, database_url: str
) -> None:
    fake = fake_slack
    # 12:00 UTC on 26 November is 02:00 on the 27th on Kiritimati (UTC+14).
    clock = ManualClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    kiri = fake.add_user("kiri", tz="Pacific/Kiritimati")
    bot = start_bot(fake, database_url, clock=clock, policy=make_policy())
    try:
        home = fake.add_channel("pacific", members=[kiri])
        incident = bot.declare(kiri, home, severity="sev3")
        channel = incident.channel_id
        assert channel is not None
        run_command(bot, kiri, channel, f"action Patch the replica <@{kiri}> due tomorrow")
        run_command(bot, kiri, channel, f"action Write the runbook <@{kiri}> due friday")
        with_items = wait_for(lambda: len(_actions(bot)) == 2 and _actions(bot))
        due = {item.text: item.due_date for item in with_items}
        assert due["Patch the replica"] == date(2026, 11, 28)  # the 27th is kiri's today
        assert due["Write the runbook"] == date(2026, 12, 4)  # the 27th is a Friday there
        with bot.db.session() as session:
            overdue = session.exec(
                select(ScheduledTask).where(ScheduledTask.kind == TaskKind.ACTION_OVERDUE)
            ).all()
        # Overdue once the 28th is over on Kiritimati: 10:00 UTC on the 28th.
        first = min(task.due_at for task in overdue)
        assert first == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
        assert first - clock.now() == timedelta(days=1, hours=22)
    finally:
        bot.runtime.stop()


def _actions(bot: Harness) -> list[ActionItem]:
    with bot.db.session() as session:
        return list(session.exec(select(ActionItem)).all())
