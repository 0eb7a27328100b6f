"""Arming a reminder has one meaning: escalation steps fire once per impact period whatever
the severity did; overdue-action and review reminders keep coming after the incident is
resolved; every occurrence is on the timeline and counted; a stale claim is cleared.
Who a target ping reaches: the response target's contacts, the resolution target's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.clock import ManualClock
from bot.db import Database
from bot.models import Incident, ScheduledTask, TaskKind, TaskState, TimelineEvent
from bot.policy import Policy
from bot.services import reminder_rules, task_schedule, tasks
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import (
    form_opened,
    reminders_in,
    reply_to,
    run_command,
    seed_due_nags,
    sweep_at,
)


def _resolve(bot: Harness, channel: str) -> None:
    view = form_opened(bot, bot.fake.alice, channel, "resolve")
    assert bot.submit(bot.fake.alice, view, {"resolution": "Rolled back"}).status == 200
    wait_for(lambda: (_incident(bot, channel) or Incident()).status == "resolved")


def _incident(bot: Harness, channel: str) -> Incident | None:
    with bot.db.session() as session:
        return session.exec(select(Incident).where(Incident.channel_id == channel)).first()


def _escalations(fake: FakeSlack, channel: str) -> list[str]:
    return [m.text for m in reminders_in(fake, channel) if "Escalation" in m.text]


def test_a_step_fires_once_per_impact_period_whatever_the_severity_did(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    start = incident.declared_at
    sweep_at(bot, clock, start + timedelta(minutes=31))
    assert len(_escalations(fake, channel)) == 1  # Sev1's 30 min step: the IT manager
    for severity in ("sev2", "sev1"):
        run_command(bot, fake.alice, channel, f"severity {severity}")
        wait_for(lambda s=severity: (_incident(bot, channel) or incident).severity == s)
    sweep_at(bot, clock, start + timedelta(minutes=40))
    # Neither Sev2's 30 min step (the same IT manager) nor Sev1's again.
    assert len(_escalations(fake, channel)) == 1
    sweep_at(bot, clock, start + timedelta(hours=1, minutes=1))
    assert len(_escalations(fake, channel)) == 2  # Sev1's 1 h step: the CTO, once
    # A reopened incident is a new impact period: its steps fire again, once each.
    _resolve(bot, channel)
    clock.advance(timedelta(minutes=5))
    run_command(bot, fake.alice, channel, "reopen")
    wait_for(lambda: (_incident(bot, channel) or incident).status == "investigating")
    reopened = clock.now()
    sweep_at(bot, clock, reopened + timedelta(minutes=31))
    sweep_at(bot, clock, reopened + timedelta(minutes=32))
    assert len(_escalations(fake, channel)) == 3


def test_overdue_action_reminders_keep_coming_after_the_incident_is_resolved(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3")
    channel = incident.channel_id
    assert channel is not None
    run_command(bot, fake.alice, channel, f"action Add the missing alert <@{fake.bob}> due today")
    wait_for(lambda: [m for m in fake.messages(channel) if "action #1" in m.text])
    _resolve(bot, channel)
    for day in (1, 2, 3):
        sweep_at(bot, clock, incident.declared_at + timedelta(days=day, hours=1))
    overdue = [m for m in reminders_in(fake, channel) if "Action #1" in m.text]
    assert len(overdue) == 3
    assert len([m for m in reminders_in(fake, fake.dm_channel(fake.bob)) if "#1" in m.text]) == 3
    run_command(bot, fake.alice, channel, "action done 1")
    wait_for(lambda: [m for m in fake.messages(channel) if "completed action #1" in m.text])
    sweep_at(bot, clock, incident.declared_at + timedelta(days=4, hours=1))
    assert len([m for m in reminders_in(fake, channel) if "Action #1" in m.text]) == 3


def test_the_review_reminder_repeats_until_the_review_is_held(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    _resolve(bot, channel)
    (task,) = [
        t for t in _tasks(bot.db, incident, TaskKind.PIR_REVIEW) if t.state == TaskState.PENDING
    ]
    deadline = reminder_rules.review_deadline(task)
    sweep_at(bot, clock, task.due_at)
    sweep_at(bot, clock, deadline)
    sweep_at(bot, clock, reminder_rules.business_days_after(deadline, 1))
    reviews = [m.text for m in reminders_in(fake, channel) if "post-incident review" in m.text]
    assert len(reviews) == 3
    assert "needs its blameless" in reviews[0] and "was due by" in reviews[2]
    run_command(bot, fake.alice, channel, "pir held")
    wait_for(lambda: (_incident(bot, channel) or incident).review_held_at is not None)
    sweep_at(bot, clock, reminder_rules.business_days_after(deadline, 5))
    assert len([m for m in reminders_in(fake, channel) if "review" in m.text]) == 3
    assert "already marked as held" in reply_to(bot, fake.alice, channel, "pir held")


def _tasks(db: Database, incident: Incident, kind: str) -> list[ScheduledTask]:
    with db.session() as session:
        return list(
            session.exec(
                select(ScheduledTask).where(
                    ScheduledTask.incident_id == incident.id, ScheduledTask.kind == kind
                )
            ).all()
        )


def test_each_occurrence_is_on_the_timeline_and_counted(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev4")
    channel = incident.channel_id
    assert channel is not None
    for day in (1, 2, 3):
        sweep_at(bot, clock, incident.declared_at + timedelta(days=day, minutes=1))
    nudges = [m for m in reminders_in(fake, channel) if "no activity" in m.text]
    assert len(nudges) == 3
    with bot.db.session() as session:
        rows = session.exec(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "reminder")
            .order_by(col(TimelineEvent.occurred_at))
        ).all()
    stale = [row for row in rows if row.data.get("kind") == TaskKind.STALE]
    assert [row.slack_ts for row in stale] == [m.ts for m in nudges]
    assert "3 inactivity checks" in reply_to(bot, fake.alice, channel, "reminders")


def test_rearming_clears_a_stale_claim_and_keeps_a_live_one(
    db: Database, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    (incident_id,) = seed_due_nags(db, fake_slack, 1, clock.now())
    with db.session() as session:
        stale = task_schedule.arm(
            session=session,
            incident_id=incident_id,
            kind="stale",
            due_at=clock.now(),
            now=clock.now(),
        )
    assert stale.id is not None
    occurrence = int(stale.data["occurrence"])
    late = tasks.claim_task(db=db, task_id=stale.id, now=clock.now())
    assert late is not None
    # Its holder hangs past the lease; the reminder is armed again meanwhile.
    clock.advance(tasks.DEFAULT_LEASE + timedelta(seconds=1))
    later = clock.now() + timedelta(hours=1)
    with db.session() as session:
        row = task_schedule.arm(
            session=session, incident_id=incident_id, kind="stale", due_at=later, now=clock.now()
        )
        assert row.claim_token is None and row.due_at == later and row.state == "pending"
    with db.session() as session:  # the late holder cannot swallow the new occurrence
        assert not tasks.complete(session=session, claim=late, now=clock.now())
    with db.session() as session:
        row = session.get(ScheduledTask, stale.id)
        assert row is not None and row.state == "pending"
        assert row.data["occurrence"] == occurrence + 1
    # A claim that is still live is left to its holder.
    live = tasks.claim_task(db=db, task_id=stale.id, now=later)
    assert live is not None
    with db.session() as session:
        row = task_schedule.arm(
            session=session,
            incident_id=incident_id,
            kind="stale",
            due_at=later + timedelta(days=1),
            now=later,
        )
        assert row.claim_token == live.token and row.due_at == later


def _targets_policy(fake: FakeSlack, people: dict[str, str], **sev2: Any) -> Policy:
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")
    data["contacts"].update(people)
    data["severities"]["sev2"].update(
        {
            "resolution_target": "1h",
            "escalation": [
                {"after": "30m", "notify": ["it_manager"]},
                {"after": "2h", "notify": ["cto"]},
                {"after": "4h", "notify": ["ceo"]},
            ],
            **sev2,
        }
    )
    return Policy.model_validate(data)


def test_target_pings_reach_whom_the_policy_says(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    people = {name: fake.add_user(name) for name in ("it_manager", "cto", "ceo", "oncall")}
    contacts = {k: v for k, v in people.items() if k != "oncall"}
    policy = _targets_policy(
        fake, contacts, response_target="30m", response_contacts=[people["oncall"]]
    )
    bot = start_bot(fake, database_url, clock=clock, policy=policy)
    try:
        incident = bot.declare(fake.alice, severity="sev2")
        channel = incident.channel_id
        assert channel is not None
        sweep_at(bot, clock, incident.declared_at + timedelta(minutes=31))
        (response,) = [m.text for m in reminders_in(fake, channel) if "response target" in m.text]
        assert f"<@{people['oncall']}>" in response
        assert not any(f"<@{people[n]}>" in response for n in ("it_manager", "cto", "ceo"))
        run_command(bot, fake.alice, channel, f"role commander <@{fake.bob}>")
        wait_for(lambda: (_incident(bot, channel) or incident).commander_id == fake.bob)
        sweep_at(bot, clock, incident.declared_at + timedelta(hours=1, minutes=1))
        (resolution,) = [
            m.text for m in reminders_in(fake, channel) if "resolution target" in m.text
        ]
        # The commander and the step already due (30 min), not the later ones.
        assert f"<@{fake.bob}>" in resolution and f"<@{people['it_manager']}>" in resolution
        assert f"<@{people['cto']}>" not in resolution
        assert f"<@{people['ceo']}>" not in resolution
    finally:
        bot.runtime.stop()


def test_target_pings_of_a_severity_without_slack_mention_none_of_their_targets(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    """`notify_via` without `slack`: the response and resolution pings name their targets
    (told by email) but ping none of them, in the channel or anywhere else."""
    fake = fake_slack
    managers = fake.add_channel("managers", bot_member=True)
    people = {name: fake.add_user(name) for name in ("cto", "ceo", "oncall")}
    contacts = {"it_manager": managers, "cto": people["cto"], "ceo": people["ceo"]}
    policy = _targets_policy(
        fake, contacts, response_target="30m", response_contacts=[people["oncall"]]
    )
    data = policy.model_dump(mode="json")
    data["notify_via"]["sev2"] = ["email"]
    bot = start_bot(fake, database_url, clock=clock, policy=Policy.model_validate(data))
    try:
        incident = bot.declare(fake.alice, severity="sev2")
        channel = incident.channel_id
        assert channel is not None
        sweep_at(bot, clock, incident.declared_at + timedelta(minutes=31))
        (response,) = [m.text for m in reminders_in(fake, channel) if "response target" in m.text]
        assert f"<@{people['oncall']}>" not in response
        assert "oncall (by email)" in response
        assert reminders_in(fake, fake.dm_channel(people["oncall"])) == []
        run_command(bot, fake.alice, channel, f"role commander <@{fake.bob}>")
        wait_for(lambda: (_incident(bot, channel) or incident).commander_id == fake.bob)
        sweep_at(bot, clock, incident.declared_at + timedelta(hours=1, minutes=1))
        (resolution,) = [
            m.text for m in reminders_in(fake, channel) if "resolution target" in m.text
        ]
        assert f"<#{managers}>" not in resolution and "it manager (by email)" in resolution
        assert f"<@{fake.bob}>" in resolution  # the commander runs it here, in Slack
        assert not any(f"<@{person}>" in resolution for person in people.values())
        assert reminders_in(fake, managers) == []  # no contact channel posted in
    finally:
        bot.runtime.stop()


def test_the_update_form_offers_only_times_the_bot_keeps(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    policy = _targets_policy(fake, {}, update_interval="20m")
    bot = start_bot(fake, database_url, clock=clock, policy=policy)
    try:
        incident = bot.declare(fake.alice, severity="sev2")
        channel = incident.channel_id
        assert channel is not None
        for seconds in (1200, 900, 86400):
            view = form_opened(bot, fake.alice, channel, "update")
            (due_block,) = [b for b in view["blocks"] if b.get("block_id") == "next_update"]
            offered = [int(o["value"]) for o in due_block["element"]["options"]]
            assert 1200 in offered and min(offered) >= 60
            assert due_block["element"]["initial_option"]["value"] == "1200"
            answer = {"status": "investigating", "next_update": str(seconds)}
            assert bot.submit(fake.alice, view, answer).status == 200
            wait_for(
                lambda s=seconds: (
                    (_incident(bot, channel) or incident).next_update_due_at
                    == clock.now() + timedelta(seconds=s)
                )
            )
            clock.advance(timedelta(minutes=1))
    finally:
        bot.runtime.stop()
