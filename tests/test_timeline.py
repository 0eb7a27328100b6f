"""The timeline records everything said and done in an incident channel, exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.models import InboxEvent, Incident, TimelineEvent
from bot.scheduler import sweep
from bot.services import event_inbox
from tests.conftest import Harness, start_bot, wait_for
from tests.fakeslack import FakeSlack


def _rows(bot: Harness, incident: Incident, kind: str | None = None) -> list[TimelineEvent]:
    with bot.db.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        if kind is not None:
            query = query.where(TimelineEvent.kind == kind)
        return list(session.exec(query.order_by(col(TimelineEvent.id))).all())


def _row(bot: Harness, channel: str, ts: str) -> TimelineEvent | None:
    with bot.db.session() as session:
        return session.exec(
            select(TimelineEvent).where(
                TimelineEvent.channel_id == channel, TimelineEvent.slack_ts == ts
            )
        ).first()


def _rows_of_channel(bot: Harness, channel: str) -> list[TimelineEvent]:
    with bot.db.session() as session:
        return list(
            session.exec(select(TimelineEvent).where(TimelineEvent.channel_id == channel)).all()
        )


def _incident(bot: Harness) -> tuple[Incident, str]:
    incident = bot.declare(bot.fake.alice)
    assert incident.channel_id is not None
    return incident, incident.channel_id


def test_messages_and_thread_replies_are_recorded_before_the_ack(bot: Harness) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    post = fake.post_user_message(fake.alice, channel, "DB CPU at 100% <!here>")
    assert all(d.status == 200 for d in post.deliveries)
    # Written before Slack got its acknowledgement: no waiting needed.
    row = _row(bot, channel, post.message.ts)
    assert row is not None
    assert (row.kind, row.actor_id, row.text) == ("message", fake.alice, "DB CPU at 100% <!here>")
    assert row.occurred_at.timestamp() == pytest.approx(float(post.message.ts))
    reply = fake.post_user_message(fake.alice, channel, "looking", thread_ts=post.message.ts)
    reply_row = _row(bot, channel, reply.message.ts)
    assert reply_row is not None and reply_row.thread_ts == post.message.ts
    broadcast = fake.post_user_message(
        fake.alice, channel, "also here", thread_ts=post.message.ts, reply_broadcast=True
    )
    assert _row(bot, channel, broadcast.message.ts) is not None


def test_the_bots_own_posts_are_on_the_timeline(bot: Harness) -> None:
    incident, _channel = _incident(bot)
    posts = _rows(bot, incident, "bot_post")
    assert {p.slack_ts for p in posts} == {incident.summary_ts, incident.announcement_ts}


def test_mention_and_message_retries_and_duplicates_make_one_row(bot: Harness) -> None:
    fake = bot.fake
    incident, channel = _incident(bot)
    post = fake.post_user_message(fake.alice, channel, f"<@{fake.bot_user_id}> status?")
    assert len(post.deliveries) == 2  # message + app_mention
    rows = [r for r in _rows(bot, incident) if r.slack_ts == post.message.ts]
    assert len(rows) == 1
    # Slack retrying one delivery (same event_id), and a duplicate delivery of the message.
    later = fake.post_user_message(fake.alice, channel, "retried", deliver=False)
    for retry in (None, 1, 2):
        delivery = fake.send_event(later.events[0], event_id="Ev0RETRY", retry_num=retry)
        assert delivery.status == 200
    fake.send_event(later.events[0], event_id="Ev0DUPLICATE")
    rows = [r for r in _rows(bot, incident) if r.slack_ts == later.message.ts]
    assert len(rows) == 1
    with bot.db.session() as session:
        stored = session.exec(select(InboxEvent)).all()
    assert len({row.event_id for row in stored}) == len(stored)


def test_edits_keep_history_and_deletions_are_marked(bot: Harness) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    post = fake.post_user_message(fake.alice, channel, "root cause: DNS")
    fake.edit_user_message(fake.alice, channel, post.message.ts, "root cause: BGP")
    fake.edit_user_message(fake.alice, channel, post.message.ts, "root cause: BGP, really")
    row = _row(bot, channel, post.message.ts)
    assert row is not None
    assert row.text == "root cause: BGP, really"
    assert [h["text"] for h in row.data["history"]] == ["root cause: DNS", "root cause: BGP"]
    assert row.edited_at is not None
    fake.delete_user_message(fake.alice, channel, post.message.ts)
    row = _row(bot, channel, post.message.ts)
    assert row is not None and row.deleted_at is not None
    assert row.text == "root cause: BGP, really"  # marked, not erased


def test_edits_and_deletions_of_unseen_messages_are_recorded_quietly(bot: Harness) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    unseen = fake.post_user_message(fake.alice, channel, "before the bot listened", deliver=False)
    edit = fake.edit_user_message(fake.alice, channel, unseen.message.ts, "edited later")
    assert all(d.status == 200 for d in edit.deliveries)
    row = _row(bot, channel, unseen.message.ts)
    assert row is not None and row.text == "edited later"
    gone = fake.post_user_message(fake.alice, channel, "never seen", deliver=False)
    fake.delete_user_message(fake.alice, channel, gone.message.ts)
    row = _row(bot, channel, gone.message.ts)
    assert row is not None and row.deleted_at is not None


def test_files_other_bots_joins_and_leaves(bot: Harness) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    shared = fake.share_file(fake.alice, channel, "graph.png", b"png", text="latency graph")
    row = _row(bot, channel, shared.message.ts)
    assert row is not None and row.kind == "file_shared"
    (file,) = row.data["files"]
    assert file["name"] == "graph.png" and file["permalink"].startswith("http")
    other = fake.post_bot_message("Grafana", channel, "Alert: p99 latency high")
    row = _row(bot, channel, other.message.ts)
    assert row is not None and row.kind == "bot_message" and "p99" in row.text
    joined = fake.join_channel(fake.bob, channel)
    left = fake.leave_channel(fake.bob, channel)
    assert (_row(bot, channel, joined.message.ts) or TimelineEvent()).kind == "member_joined"
    assert (_row(bot, channel, left.message.ts) or TimelineEvent()).kind == "member_left"


def test_pushpin_reactions_and_pins_mark_key_events(bot: Harness) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    post = fake.post_user_message(fake.alice, channel, "Failover done at 14:32")
    fake.add_reaction(fake.alice, channel, post.message.ts, "thumbsup")
    assert not (_row(bot, channel, post.message.ts) or TimelineEvent()).is_key_event
    fake.add_reaction(fake.alice, channel, post.message.ts, "pushpin")
    assert (_row(bot, channel, post.message.ts) or TimelineEvent()).is_key_event
    fake.pin_message(fake.alice, channel, post.message.ts)
    fake.remove_reaction(fake.alice, channel, post.message.ts, "pushpin")
    assert (_row(bot, channel, post.message.ts) or TimelineEvent()).is_key_event  # still pinned
    fake.unpin_message(fake.alice, channel, post.message.ts)
    assert not (_row(bot, channel, post.message.ts) or TimelineEvent()).is_key_event


def test_odd_events_are_handled_quietly(bot: Harness) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    odd: list[dict[str, Any]] = [
        {"type": "message", "channel": channel},  # no user, no text, no ts
        {"type": "message", "channel": channel, "subtype": "message_changed"},
        {"type": "message", "channel": channel, "subtype": "message_deleted"},
        {"type": "reaction_added", "reaction": "pushpin", "item": {"type": "file"}},
        {"type": "pin_added", "channel_id": channel, "item": {}},
        {"type": "message", "channel": channel, "ts": "not-a-ts", "text": "x", "user": fake.alice},
    ]
    before = len(_rows_of_channel(bot, channel))
    for event in odd[:-1]:
        assert fake.send_event(event).status == 200
    assert len(_rows_of_channel(bot, channel)) == before  # nothing to record in them
    assert fake.send_event(odd[-1]).status == 200  # an unreadable ts: kept, at receipt time
    assert [r.text for r in _rows_of_channel(bot, channel)][before:] == ["x"]
    assert bot.command(fake.alice, channel, "help").status == 200


def test_other_channels_are_not_recorded(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident, _ = _incident(bot)
    before = len(_rows(bot, incident))
    fake.post_user_message(fake.alice, fake.incidents, "chatter in #incidents")
    assert len(_rows(bot, incident)) == before
    # Held for a while in case #incidents became an incident's channel, then forgotten.
    with bot.db.session() as session:
        held = session.exec(select(InboxEvent)).all()
    assert [row.state for row in held] == ["unmatched"]
    clock.advance(event_inbox.UNMATCHED_TTL + timedelta(minutes=1))
    sweep(bot.ctx)
    with bot.db.session() as session:
        assert session.exec(select(InboxEvent)).all() == []
    assert len(_rows(bot, incident)) == before


def _poison(bot: Harness) -> None:
    """A real database failure for rows whose text is 'poison'."""
    with bot.db.engine.begin() as connection:
        if bot.db.is_sqlite:
            connection.execute(
                text(
                    "CREATE TRIGGER poison BEFORE INSERT ON timeline_event "
                    "WHEN NEW.text = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.text = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER poison BEFORE INSERT ON timeline_event "
                    "FOR EACH ROW EXECUTE FUNCTION poison()"
                )
            )


def _cure(bot: Harness) -> None:
    with bot.db.engine.begin() as connection:
        if bot.db.is_sqlite:
            connection.execute(text("DROP TRIGGER poison"))
        else:
            connection.execute(text("DROP TRIGGER poison ON timeline_event"))
            connection.execute(text("DROP FUNCTION poison()"))


def _inbox_row(bot: Harness, ts: str) -> InboxEvent:
    with bot.db.session() as session:
        rows = session.exec(select(InboxEvent)).all()
    (row,) = [r for r in rows if (r.payload.get("event") or {}).get("ts") == ts]
    return row


def test_a_failing_event_is_retried_without_blocking_others(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    _poison(bot)
    bad = fake.post_user_message(fake.alice, channel, "poison")
    assert all(d.status == 200 for d in bad.deliveries)
    good = fake.post_user_message(fake.alice, channel, "still flowing")
    assert _row(bot, channel, good.message.ts) is not None
    assert _row(bot, channel, bad.message.ts) is None
    stored = _inbox_row(bot, bad.message.ts)
    assert stored.state == "pending" and "poisoned" in (stored.last_error or "")
    _cure(bot)
    clock.advance(timedelta(minutes=1))
    sweep(bot.ctx)
    assert (_row(bot, channel, bad.message.ts) or TimelineEvent()).text == "poison"
    assert _inbox_row(bot, bad.message.ts).state == "done"


def test_an_event_failing_again_and_again_is_set_aside(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    _, channel = _incident(bot)
    _poison(bot)
    bad = fake.post_user_message(fake.alice, channel, "poison")
    for _ in range(event_inbox.MAX_ATTEMPTS + 2):
        clock.advance(timedelta(hours=1))
        sweep(bot.ctx)
    stored = _inbox_row(bot, bad.message.ts)
    assert stored.state == "dead"
    assert stored.attempts == event_inbox.MAX_ATTEMPTS
    assert "poisoned" in (stored.last_error or "")
    later = fake.post_user_message(fake.alice, channel, "after it")
    assert _row(bot, channel, later.message.ts) is not None


def test_two_replicas_receiving_the_same_event_record_it_once(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    first = start_bot(fake_slack, database_url, clock=clock)
    second = start_bot(fake_slack, database_url, clock=clock)
    try:
        fake_slack.app_url = f"http://127.0.0.1:{first.runtime.port}/slack/events"
        incident = first.declare(fake_slack.alice)
        channel = incident.channel_id
        assert channel is not None
        post = fake_slack.post_user_message(fake_slack.alice, channel, "hello", deliver=False)
        fake_slack.send_event(post.events[0], event_id="Ev0SAME")
        fake_slack.app_url = f"http://127.0.0.1:{second.runtime.port}/slack/events"
        fake_slack.send_event(post.events[0], event_id="Ev0SAME", retry_num=1)
        rows = [r for r in _rows(first, incident) if r.slack_ts == post.message.ts]
        assert len(rows) == 1
    finally:
        second.runtime.stop()
        first.runtime.stop()


def test_events_over_socket_mode(fake_slack: FakeSlack, database_url: str) -> None:
    harness = start_bot(fake_slack, database_url, via="socket")
    try:
        incident = harness.declare(fake_slack.alice)
        channel = incident.channel_id
        assert channel is not None
        post = fake_slack.post_user_message(
            fake_slack.alice, channel, "over the socket", via="socket"
        )
        assert all(d.status == 200 for d in post.deliveries)
        row = wait_for(lambda: _row(harness, channel, post.message.ts))
        assert row.text == "over the socket"
        assert row.kind == "message" and row.actor_id == fake_slack.alice
    finally:
        harness.runtime.stop()
