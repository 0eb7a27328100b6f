"""Each set-up step stands alone: refused steps are reported, not retried; the rest still run."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.models import Incident, ScheduledTask, TaskKind, TaskState, TimelineEvent
from bot.scheduler import sweep
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.test_declare import _assert_made_once, _posts

# -- helpers ---------------------------------------------------------------------------


def _dms(fake: FakeSlack, user: str) -> list[Any]:
    return _posts(fake, fake.dm_channel(user))


def _task(bot: Harness, incident: Incident) -> ScheduledTask:
    with bot.db.session() as session:
        return session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id,
                ScheduledTask.kind == TaskKind.PROVISION,
            )
        ).one()


def _problems_on_timeline(bot: Harness, incident: Incident) -> list[TimelineEvent]:
    with bot.db.session() as session:
        events = session.exec(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        ).all()
    return [e for e in events if e.kind == "slack_setup" and "problem" in e.data]


def _sweeps(bot: Harness, clock: ManualClock, times: int) -> None:
    for _ in range(times):
        clock.advance(timedelta(minutes=16))
        sweep(bot.ctx)


def _row(bot: Harness, incident: Incident) -> Incident:
    row = bot.incident(incident.reference)
    assert row is not None
    return row


def _retry_button(bot: Harness, user: str, message: Any) -> None:
    fake = bot.fake
    delivery = fake.send_block_action(
        user,
        "incident_retry_setup",
        channel_id=fake.dm_channel(user),
        message_ts=message.ts,
        via=bot.via,
    )
    assert delivery.status == 200


def _add_to_incidents(fake: FakeSlack, user: str) -> None:
    fake.join_channel(user, fake.incidents, deliver=False)


# -- people Slack will not let the bot invite ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("guest", "user_is_restricted", "guests can be added to channels only by a workspace"),
        ("single_channel_guest", "ura_max_channels", "single-channel guest"),
        ("external", "cant_invite", "someone from another organisation"),
    ],
)
def test_reporter_who_cannot_be_invited_gets_everything_else(
    bot: Harness, clock: ManualClock, kind: str, error: str, words: str
) -> None:
    fake = bot.fake
    options: dict[str, Any] = {
        "guest": {"is_restricted": True},
        "single_channel_guest": {"is_ultra_restricted": True},
        "external": {"team_id": "T0PARTNER"},
    }[kind]
    carol = fake.add_user("carol", **options)
    _add_to_incidents(fake, carol)

    incident = bot.declare(carol, title="Guest reports", severity="sev1")

    channel = fake.channels[incident.channel_id]
    assert carol not in channel.members
    assert incident.reference in channel.topic
    (summary,) = _posts(fake, channel.id, "incident_summary")
    assert summary.ts in channel.pins
    (announcement,) = _posts(fake, fake.incidents, "incident_announcement")
    assert announcement.ts == incident.announcement_ts

    (confirmation,) = _dms(fake, carol)
    assert (confirmation.metadata or {}).get("event_type") == "incident_confirmation"
    assert f"You could not be added to <#{channel.id}> because" in confirmation.text
    assert words in confirmation.text
    assert "Retry now" in json.dumps(confirmation.blocks)

    assert not incident.reporter_invited
    assert incident.setup_problems["invite"]["error"] == error
    assert incident.setup_problems["invite"]["gave_up"] is False
    assert incident.provisioned_at is not None
    assert _task(bot, incident).state == TaskState.DONE
    (entry,) = _problems_on_timeline(bot, incident)
    assert entry.data["problem"] == "invite" and entry.data["error"] == error

    _sweeps(bot, clock, 3)
    assert len(fake.calls_to("conversations.invite")) == 1
    assert len(_dms(fake, carol)) == 1
    _assert_made_once(fake, _row(bot, incident))


def test_already_in_the_channel_counts_as_invited(bot: Harness) -> None:
    fake = bot.fake
    fake.fail("conversations.invite", error="already_in_channel")
    incident = bot.declare(fake.alice, title="Already there")
    assert incident.reporter_invited
    assert incident.setup_problems == {}
    (confirmation,) = _dms(fake, fake.alice)
    assert "You are in the channel" in confirmation.text


# -- an announcement channel that cannot take the announcement -------------------------


def test_archived_announcement_channel_is_reported_once(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    archived = fake.add_channel("old-incidents", members=[fake.alice], is_archived=True)
    harness = start_bot(
        fake, database_url, clock=clock, policy=make_policy(announcement_channel=archived)
    )
    try:
        incident = harness.declare(fake.alice, title="Nobody hears", severity="sev1")
        channel = fake.channels[incident.channel_id]
        assert fake.alice in channel.members
        assert incident.reference in channel.topic
        (summary,) = _posts(fake, channel.id, "incident_summary")
        assert summary.ts in channel.pins
        assert incident.announcement_ts is None
        assert incident.setup_problems["announcement"]["error"] == "is_archived"

        _sweeps(harness, clock, 3)
        told = [m for m in _dms(fake, fake.alice) if "archived" in m.text]
        (notice,) = told
        assert "The incident was not announced because the announcement channel is archived" in (
            notice.text
        )
        assert "`announcement_channel`" in notice.text
        posts = [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == archived]
        assert len(posts) == 1
        assert _task(harness, incident).state == TaskState.DONE
    finally:
        harness.runtime.stop()


# -- failures that pass ---------------------------------------------------------------


def test_rate_limited_topic_does_not_hold_back_the_rest(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    fake.rate_limit("conversations.setTopic", retry_after=30, times=1)  # beyond the client's wait
    incident = bot.declare(fake.alice, wait=False, title="Topic waits")
    (notice,) = wait_for(
        lambda: [m for m in _dms(fake, fake.alice) if "Retry now" in json.dumps(m.blocks)]
    )
    row = _row(bot, incident)
    assert row.topic is None
    channel = fake.channels[row.channel_id]
    (summary,) = _posts(fake, channel.id, "incident_summary")
    assert summary.ts in channel.pins
    assert row.announcement_ts is not None
    assert not row.confirmation_sent
    assert "the channel topic was not set (Slack asked the bot to slow down)" in notice.text
    task = _task(bot, incident)
    assert task.state == TaskState.PENDING
    assert task.due_at >= clock.now() + timedelta(seconds=30)

    clock.advance(timedelta(seconds=31))
    sweep(bot.ctx)
    done = wait_for(lambda: bot.incident(incident.reference, done=True))
    assert incident.reference in fake.channels[done.channel_id].topic
    assert len(fake.calls_to("conversations.setTopic")) == 2
    assert done.setup_problems == {}
    _assert_made_once(fake, done)
    assert "fully set up now" in _dms(fake, fake.alice)[-1].text


def test_step_failing_every_time_is_given_up_once_then_retried_by_hand(
    bot: Harness, clock: ManualClock
) -> None:
    from bot.flows.slack_refusals import MAX_ATTEMPTS

    fake = bot.fake
    fake.fail("conversations.setTopic", error="service_unavailable", times=1000)
    incident = bot.declare(fake.alice, wait=False, title="Topic never sets")
    wait_for(lambda: _dms(fake, fake.alice))
    for _ in range(MAX_ATTEMPTS + 5):
        clock.advance(timedelta(minutes=16))
        sweep(bot.ctx)
    assert len(fake.calls_to("conversations.setTopic")) == MAX_ATTEMPTS

    row = _row(bot, incident)
    assert row.setup_problems["topic"]["gave_up"] is True
    assert row.setup_problems["topic"]["error"] == "service_unavailable"
    assert row.provisioned_at is not None
    assert _task(bot, incident).state == TaskState.DONE
    notice, gave_up = _dms(fake, fake.alice)
    assert "I will keep retrying" in notice.text
    assert "The channel topic was not set: Slack kept failing (Slack is unavailable)" in (
        gave_up.text
    )
    assert f"gave up after {MAX_ATTEMPTS} attempts" in gave_up.text
    assert "Retry now" in json.dumps(gave_up.blocks)
    _assert_made_once(fake, row)

    fake.clear_faults()
    _retry_button(bot, fake.alice, gave_up)
    done = wait_for(
        lambda: (r := _row(bot, incident)).topic is not None and r.confirmation_sent and r
    )
    assert incident.reference in fake.channels[done.channel_id].topic
    assert done.setup_problems == {} and done.setup_round == 1
    assert "fully set up now" in _dms(fake, fake.alice)[-1].text
    assert len(_dms(fake, fake.alice)) == 3
    created = [c for c in fake.calls_to("conversations.create") if c.response.get("ok")]
    assert len(created) == 1
    assert len(_posts(fake, done.channel_id, "incident_summary")) == 1
    assert len(_posts(fake, fake.incidents, "incident_announcement")) == 1


# -- refusals that hold other steps back ----------------------------------------------


def test_refused_channel_skips_what_needs_it_and_says_so(bot: Harness) -> None:
    fake = bot.fake
    fake.fail("conversations.create", error="restricted_action")
    incident = bot.declare(fake.alice, title="No channels allowed")
    assert incident.channel_id is None
    assert set(incident.setup_problems) == {"channel"}
    (confirmation,) = _dms(fake, fake.alice)
    text = confirmation.text
    assert "has no incident channel" in text
    assert "stops the bot from creating channels" in text
    assert (
        "Skipped because of that: your invitation, the topic, the summary, the pin, "
        "the announcement." in text
    )
    assert [c.method for c in fake.calls if c.method.startswith("conversations.")] == [
        "conversations.create"
    ]

    _retry_button(bot, fake.alice, confirmation)
    done = wait_for(lambda: (r := _row(bot, incident)).confirmation_sent and r.channel_id and r)
    assert fake.alice in fake.channels[done.channel_id].members
    assert "fully set up now" in _dms(fake, fake.alice)[-1].text
    assert len(_dms(fake, fake.alice)) == 2  # one confirmation a round
    assert len(_posts(fake, done.channel_id, "incident_summary")) == 1
    assert len(_posts(fake, fake.incidents, "incident_announcement")) == 1


def test_refused_summary_skips_only_the_pin(bot: Harness) -> None:
    fake = bot.fake
    fake.fail("chat.postMessage", error="msg_blocks_too_long")  # the summary is posted first
    incident = bot.declare(fake.alice, title="Summary refused")
    assert set(incident.setup_problems) == {"summary"}
    assert incident.announcement_ts is not None
    assert incident.reference in fake.channels[incident.channel_id].topic
    assert fake.calls_to("pins.add") == []
    (confirmation,) = _dms(fake, fake.alice)
    assert "The summary was not posted in the channel because" in confirmation.text
    assert "Skipped because of that: the pin." in confirmation.text
    assert "please report this bug" in confirmation.text


def test_refused_pin_is_reported_not_retried(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    fake.fail("pins.add", error="not_pinnable")
    incident = bot.declare(fake.alice, title="Odd pin")
    assert incident.setup_problems["pin"]["error"] == "not_pinnable"
    _sweeps(bot, clock, 2)
    assert len(fake.calls_to("pins.add")) == 1


def test_retry_now_tries_a_refused_step_again(bot: Harness) -> None:
    fake = bot.fake
    carol = fake.add_user("carol", is_restricted=True)
    _add_to_incidents(fake, carol)
    fake.rate_limit("conversations.setTopic", retry_after=30, times=1)
    incident = bot.declare(carol, wait=False, title="Admin steps in")
    (notice,) = wait_for(lambda: _dms(fake, carol))
    assert "Retrying alone will not help here" in notice.text
    assert "You could not be added to" in notice.text
    row = _row(bot, incident)
    assert set(row.setup_problems) == {"invite"}

    fake.join_channel(carol, row.channel_id, deliver=False)  # a workspace admin added her
    _retry_button(bot, carol, notice)
    done = wait_for(lambda: bot.incident(incident.reference, done=True))
    assert done.reporter_invited and done.setup_problems == {}
    assert incident.reference in fake.channels[done.channel_id].topic
    assert len(fake.calls_to("conversations.invite")) == 2
    assert "fully set up now" in _dms(fake, carol)[-1].text
    _assert_made_once(fake, done)
