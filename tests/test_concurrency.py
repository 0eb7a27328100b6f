"""Concurrent and repeated work neither doubles nor drops anything: replicas that learn of a
channel late, leases that run out mid-batch, commands that race on one incident,
replicas migrating at once, and a Slack that will not say who the bot is."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot import migrate
from bot.cli import main
from bot.clock import ManualClock
from bot.context import Context
from bot.db import Database
from bot.flows import reminder_delivery
from bot.models import (
    ActionItem,
    AuditEntry,
    InboxEvent,
    Incident,
    RoleAssignment,
    ScheduledTask,
    TaskKind,
    TaskState,
    TimelineEvent,
)
from bot.policy import default_policy
from bot.scheduler import sweep
from bot.services import tasks
from bot.slack.gateway import SlackGateway, make_clients
from tests.conftest import BOT_TOKEN, Harness, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import reminders_in, seed_due_nags

ROOT = Path(__file__).resolve().parent.parent


def _context(db: Database, fake: FakeSlack, clock: ManualClock) -> Context:
    """Another process's view of the same database and workspace (no cached identity)."""
    retrying, creating = make_clients(BOT_TOKEN, fake.api_url)
    return Context(
        policy=default_policy(),
        db=db,
        slack=SlackGateway(retrying, creating),
        clock=clock,
    )


def _timeline_row(db: Database, channel: str, ts: str) -> TimelineEvent | None:
    with db.session() as session:
        return session.exec(
            select(TimelineEvent).where(
                TimelineEvent.channel_id == channel, TimelineEvent.slack_ts == ts
            )
        ).first()


def test_an_event_that_reaches_a_replica_before_it_knows_the_channel_is_kept(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    first = start_bot(fake, database_url, clock=clock)
    second = start_bot(fake, database_url, clock=clock)
    urls = {h: f"http://127.0.0.1:{h.runtime.port}/slack/events" for h in (first, second)}
    try:
        fake.app_url = urls[first]
        # The channel is made, but the first replica does not hear back and cannot find it
        # yet: the incident has no channel on record while people start to talk in it.
        fake.server_error("conversations.create", then_apply=True)
        fake.fail("conversations.list", times=10)
        incident = first.declare(fake.alice, title="Late channel", wait=False)
        made = wait_for(
            lambda: [c for c in fake.channels.values() if c.name.startswith("inc-")] or None
        )[0]

        def released() -> bool:
            with first.db.session() as session:
                task = session.exec(
                    select(ScheduledTask).where(
                        ScheduledTask.incident_id == incident.id,
                        ScheduledTask.kind == TaskKind.PROVISION,
                    )
                ).one()
            return task.claim_token is None and task.attempts == 1

        wait_for(released)
        # The second replica receives the channel's first events.
        fake.app_url = urls[second]
        fake.join_channel(fake.alice, made.id)
        post = fake.post_user_message(fake.alice, made.id, "db-7 is at 100% cpu")
        assert all(d.status == 200 for d in post.deliveries)
        with second.db.session() as session:
            held = session.exec(select(InboxEvent).where(InboxEvent.channel_id == made.id)).all()
        assert held and {row.state for row in held} == {"unmatched"}
        assert _timeline_row(second.db, made.id, post.message.ts) is None
        # The first replica's retry finds the channel; the held events are recorded.
        fake.clear_faults()
        clock.advance(timedelta(minutes=1))
        sweep(first.ctx)
        row = _timeline_row(first.db, made.id, post.message.ts)
        assert row is not None and row.text == "db-7 is at 100% cpu"
        assert row.incident_id == incident.id
    finally:
        second.runtime.stop()
        first.runtime.stop()


def test_a_reminder_whose_lease_ran_out_mid_batch_is_posted_once(
    db: Database, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    due = clock.now()
    ids = seed_due_nags(db, fake_slack, 2, due)
    slow, other = _context(db, fake_slack, clock), _context(db, fake_slack, clock)
    try:
        batch = tasks.claim_due(db=db, now=due, limit=10)
        assert len(batch) == 2
        reminder_delivery.run_claimed(slow, batch[0])
        # The first reminder took longer than the lease: the second one's claim went stale
        # and another process took it over. Its post is on the way (slowly) when the first
        # process, still holding its stale claim, comes to the same reminder.
        clock.advance(tasks.DEFAULT_LEASE + timedelta(seconds=1))
        (taken,) = tasks.claim_due(db=db, now=clock.now(), limit=10)
        assert taken.task_id == batch[1].task_id
        looked = len(fake_slack.calls_to("conversations.history"))
        fake_slack.delay("chat.postMessage", 1.5, then_apply=True)
        rival = threading.Thread(target=reminder_delivery.run_claimed, args=(other, taken))
        rival.start()
        wait_for(lambda: len(fake_slack.calls_to("conversations.history")) > looked)
        time.sleep(0.3)  # the rival's post is in flight
        reminder_delivery.run_claimed(slow, batch[1])  # must not post it as well
        rival.join(timeout=10)
        with db.session() as session:
            channels = [session.get(Incident, i).channel_id for i in ids]  # type: ignore[union-attr]
        for channel in channels:
            assert channel is not None
            assert len(reminders_in(fake_slack, channel)) == 1, channel
    finally:
        slow.work.shutdown()
        other.work.shutdown()


def test_racing_commands_leave_one_commander_distinct_actions_and_one_severity(
    bot: Harness,
) -> None:
    fake = bot.fake
    people = [fake.add_user(f"responder{n}") for n in range(6)]
    incident = bot.declare(fake.alice, severity="sev3")
    channel = incident.channel_id
    assert channel is not None
    commands = [f"role commander <@{person}>" for person in people]
    commands += [f"action Follow-up number {n} <@{people[0]}> due tomorrow" for n in range(10)]
    commands += [f"severity {sev}" for sev in ("sev1", "sev2", "sev4", "sev1", "sev2", "sev3")]
    with ThreadPoolExecutor(max_workers=12) as pool:
        acks = list(pool.map(lambda text: bot.command(fake.alice, channel, text), commands))
    assert all(ack.status == 200 for ack in acks)
    assert bot.ctx.wait_idle()  # every command has run
    replies = [str(r.body.get("text", "")) for r in fake.responses]
    assert not [text for text in replies if "went wrong" in text or "refused" in text], replies
    with bot.db.session() as session:
        fresh = session.get(Incident, incident.id)
        assert fresh is not None
        active = session.exec(
            select(RoleAssignment).where(
                RoleAssignment.incident_id == incident.id,
                RoleAssignment.role == "commander",
                col(RoleAssignment.ended_at).is_(None),
            )
        ).all()
        numbers = session.exec(
            select(ActionItem.number).where(ActionItem.incident_id == incident.id)
        ).all()
        severities = session.exec(
            select(AuditEntry)
            .where(AuditEntry.incident_id == incident.id, AuditEntry.field == "severity")
            .order_by(col(AuditEntry.id))
        ).all()
        escalations = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id,
                ScheduledTask.kind == TaskKind.ESCALATION,
                ScheduledTask.state == TaskState.PENDING,
            )
        ).all()
        nags = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id,
                ScheduledTask.kind == TaskKind.NAG,
                ScheduledTask.state == TaskState.PENDING,
            )
        ).all()
    assert len(active) == 1 and fresh.commander_id == active[0].user_id
    assert sorted(numbers) == list(range(1, 11)), replies
    # Each severity change started from the one before it: no change was lost.
    assert [a.old_value for a in severities[1:]] == [a.new_value for a in severities[:-1]]
    assert severities[-1].new_value == fresh.severity
    assert {task.key.split(":")[1] for task in escalations} <= {fresh.severity}
    assert len(nags) == 1


def test_replicas_that_migrate_at_once_all_start(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], results
    database = Database.from_url(database_url)
    try:
        assert migrate.current_revision(database) == migrate.head_revision(database)
    finally:
        database.dispose()


def test_the_sweep_records_events_and_posts_reminders_while_auth_test_fails(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    # An event that failed to record earlier waits in the inbox.
    post = fake.post_user_message(fake.alice, channel, "kept for later", deliver=False)
    body = {
        "type": "event_callback",
        "event_id": "Ev0LATER",
        "event": post.events[0],
        "authorizations": [{"user_id": fake.bot_user_id, "is_bot": True}],
    }
    with bot.db.session() as session:
        session.add(
            InboxEvent(
                event_id="Ev0LATER",
                event_type="message",
                channel_id=channel,
                received_at=clock.now() - timedelta(minutes=5),
                payload=body,
                state="pending",
                attempts=1,
            )
        )
    fake.fail("auth.test", times=1000)
    other = _context(bot.db, fake, clock)
    try:
        clock.set(incident.declared_at + timedelta(hours=1, minutes=1))
        sweep(other)
    finally:
        other.work.shutdown()
    row = _timeline_row(bot.db, channel, post.message.ts)
    assert row is not None and row.text == "kept for later"
    assert [m for m in reminders_in(fake, channel) if "status update" in m.text]


def test_an_sqlite_too_old_for_returning_is_refused_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'old.db'}")
    monkeypatch.setattr("bot.db.MIN_SQLITE", (99, 0, 0))
    assert main(["migrate"]) == 2
    error = capsys.readouterr().err
    assert "is too old: the bot needs 99.0.0 or newer (for RETURNING)" in error
    assert not (tmp_path / "old.db").exists() or (tmp_path / "old.db").stat().st_size == 0
