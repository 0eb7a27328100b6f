"""A flaky Slack never costs a record: every effect of a saved change happens exactly once
in the end, what the channel shows is the latest state, and nobody is told to try again
what was already saved."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from bot import blocks
from bot.clock import ManualClock
from bot.models import Incident, ScheduledTask, TaskKind, TaskState, TimelineEvent
from bot.scheduler import sweep
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import form_opened, reply_to

EFFECTS = (TaskKind.SLACK_POST, TaskKind.SLACK_REFRESH, TaskKind.ROLE_INVITE)
UNFINISHED = (*EFFECTS, TaskKind.PROVISION)


def _unfinished(bot: Harness) -> list[ScheduledTask]:
    with bot.db.session() as session:
        return list(
            session.exec(
                select(ScheduledTask).where(
                    col(ScheduledTask.kind).in_([str(k) for k in UNFINISHED]),
                    ScheduledTask.state == TaskState.PENDING,
                )
            ).all()
        )


def _settle(bot: Harness, clock: ManualClock, rounds: int = 40) -> None:
    """Let the sweeper catch up: a quarter of an hour at a time, until nothing is owed."""
    for _ in range(rounds):
        assert bot.ctx.wait_idle()  # the work deferred so far is done
        if not _unfinished(bot):
            return
        _settle_once(bot, clock)
    raise AssertionError(f"still owed to Slack: {_unfinished(bot)}")


def _incident(bot: Harness, reference: str) -> Incident:
    with bot.db.session() as session:
        return session.exec(select(Incident).where(Incident.reference == reference)).one()


def test_a_flaky_slack_loses_and_doubles_nothing(fake_slack: FakeSlack, database_url: str) -> None:
    fake = fake_slack
    # The bot's clock runs behind Slack's, so that hours of retries in a few seconds stay in
    # Slack's past (a retried post looks for itself from its own time on).
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12))
    bot = start_bot(
        fake,
        database_url,
        clock=clock,
        policy=make_policy(announcement_channel=fake.incidents),
        slack_timeout=1,
    )
    try:
        _run_four_incidents(bot, fake, clock)
    finally:
        bot.runtime.stop()


def _run_four_incidents(bot: Harness, fake: FakeSlack, clock: ManualClock) -> None:
    # A person opening a form retries until it opens; everything else faces the chaos.
    fake.chaos(0.2, seed=20261126, timeout_seconds=1.5, spared={"views.open"})
    references = []
    chatter: list[tuple[str, str]] = []
    for number in range(4):
        declared = bot.declare(fake.alice, title=f"Flaky incident {number}", wait=False)
        references.append(declared.reference)
        wait_for(lambda r=declared.reference: bot.incident(r), timeout=20)
        while not _incident(bot, declared.reference).reporter_invited:  # in the channel
            _settle_once(bot, clock)
        channel = _incident(bot, declared.reference).channel_id
        assert channel is not None
        for text in ("note Rolled back the deploy", "severity sev1", "status identified"):
            assert bot.command(fake.alice, channel, text).status == 200
            assert bot.ctx.wait_idle()
        assert bot.command(fake.alice, channel, f"role commander <@{fake.bob}>").status == 200
        for line in range(3):
            post = fake.post_user_message(fake.alice, channel, f"chatter {number}.{line}")
            chatter.append((channel, post.message.ts))
        view = form_opened(bot, bot.fake.alice, channel, "resolve")
        answer = {"resolution": "Rolled back", "root_cause": "Bad deploy", "impact_summary": "All"}
        assert bot.submit(fake.alice, view, answer).status == 200
    drawn = Counter(kind for _, kind in fake.chaos_log)
    assert sum(drawn.values()) >= 10 and len(drawn) == 3, drawn  # 429s, 500s and timeouts
    fake.clear_faults()
    _settle(bot, clock)

    # Nobody is asked to do again what was saved; a read that failed before any change
    # says that nothing was changed.
    replies = [str(r.body.get("text", "")) for r in fake.responses]
    assert not [r for r in replies if "again" in r and "nothing was changed" not in r], replies
    with bot.db.session() as session:
        effects = session.exec(
            select(ScheduledTask).where(col(ScheduledTask.kind).in_([str(k) for k in EFFECTS]))
        ).all()
    assert effects and {task.state for task in effects} == {TaskState.DONE}
    # Every post a change owed Slack is there exactly once.
    posted = Counter(
        (message.metadata or {}).get("event_payload", {}).get("effect")
        for channel in fake.channels.values()
        for message in channel.messages
        if message.user == fake.bot_user_id
    )
    for task in effects:
        if task.kind == TaskKind.SLACK_POST:
            assert posted[task.id] == 1, (task.id, task.data.get("text"))
    for reference in references:
        incident = _incident(bot, reference)
        channel = incident.channel_id
        assert channel is not None and incident.summary_ts is not None
        assert incident.status == "resolved" and incident.severity == "sev1"
        assert incident.commander_id == fake.bob
        # Set up once, announced once.
        announced = [
            m
            for m in fake.messages(fake.incidents, system=False)
            if (m.metadata or {}).get("event_type") == "incident_announcement"
            and reference in m.text
        ]
        assert len(announced) == 1
        # What the channel shows is the final state.
        summary = next(m for m in fake.messages(channel) if m.ts == incident.summary_ts)
        assert "*Status:* Resolved" in str(summary.blocks)
        assert f"<@{fake.bob}>" in str(summary.blocks)
        assert fake.channels[channel].topic == blocks.topic_text(incident, bot.ctx.policy)
        assert "Resolved" in announced[0].text or "Resolved" in str(announced[0].blocks)
        assert fake.bob in fake.channels[channel].members
    duties = [m for m in fake.messages(fake.dm_channel(fake.bob)) if "duties" in m.text]
    assert len(duties) == 4
    with bot.db.session() as session:
        recorded = {
            (row.channel_id, row.slack_ts) for row in session.exec(select(TimelineEvent)).all()
        }
    assert set(chatter) <= recorded


def _settle_once(bot: Harness, clock: ManualClock) -> None:
    assert bot.ctx.wait_idle()
    bot.fake.wait_quiet()  # a retry comes after a late answer has landed, as in real time
    clock.advance(timedelta(minutes=15))
    sweep(bot.ctx, limit=500)


def test_a_failing_first_auth_test_never_says_reinstall(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake_slack.server_error("auth.test", times=20)
    bot = start_bot(fake_slack, database_url, clock=clock)
    try:
        before = len(fake_slack.responses)
        assert bot.command(fake_slack.alice, fake_slack.incidents, "help").status == 200
        reply = wait_for(lambda: fake_slack.responses[before:] or None)[0].body["text"]
        assert "/incident update" in reply and "reinstall" not in reply.lower()
    finally:
        bot.runtime.stop()


def test_a_saved_change_waits_for_slack_and_the_person_is_told_so(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3")
    channel = incident.channel_id
    assert channel is not None
    fake.rate_limit("chat.postMessage", retry_after=60)  # longer than the client waits
    reply = reply_to(bot, fake.alice, channel, "note Failover started at 14:02")
    assert reply == "Saved. Slack is slow right now: the channel will catch up on its own."
    with bot.db.session() as session:
        notes = session.exec(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "note"
            )
        ).all()
    assert [n.text for n in notes] == ["Failover started at 14:02"]
    assert not [m for m in fake.messages(channel) if "Failover started" in m.text]
    clock.advance(timedelta(seconds=61))
    sweep(bot.ctx)
    assert len([m for m in fake.messages(channel) if "Failover started" in m.text]) == 1


def test_a_late_edit_never_puts_back_an_older_state(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3")
    channel = incident.channel_id
    assert channel is not None and incident.announcement_ts is not None
    # The refresh after the first change is rate limited for a minute ...
    fake.rate_limit("chat.update", retry_after=60)
    assert bot.command(fake.alice, channel, "status identified").status == 200
    wait_for(lambda: [m for m in fake.messages(channel) if "to *Identified*" in m.text])
    # ... and a second change comes first.
    fake.clear_faults()
    assert bot.command(fake.alice, channel, "status monitoring").status == 200
    wait_for(lambda: [m for m in fake.messages(channel) if "to *Monitoring*" in m.text])
    assert bot.ctx.wait_idle()
    clock.advance(timedelta(minutes=2))
    sweep(bot.ctx)
    announcement = next(
        m for m in fake.messages(fake.incidents) if m.ts == incident.announcement_ts
    )
    assert "Monitoring" in announcement.text and "Identified" not in announcement.text
    summary = next(m for m in fake.messages(channel) if m.ts == incident.summary_ts)
    assert "*Status:* Monitoring" in str(summary.blocks)
