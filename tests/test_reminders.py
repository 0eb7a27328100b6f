"""Nags and escalation pings: on time, moved by what happens, never lost, never doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.context import FORM_THREADS, WORK_THREADS
from bot.db import Database
from bot.models import Incident, ScheduledTask, TaskState, TimelineEvent
from bot.scheduler import sweep
from bot.services import tasks
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import (
    nags_in,
    pending_tasks,
    reminders_in,
    run_command,
    seed_due_nags,
    sweep_at,
)

ROOT = Path(__file__).resolve().parent.parent


def test_nag_when_the_update_is_due_and_again_each_interval(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")  # updates every hour
    channel = incident.channel_id
    assert channel is not None
    start = incident.declared_at
    sweep_at(bot, clock, start + timedelta(minutes=59))
    assert nags_in(fake, channel) == []
    sweep_at(bot, clock, start + timedelta(hours=1))
    (nag,) = nags_in(fake, channel)
    assert f"<@{fake.alice}>" in nag.text  # no commander: the reporter
    actions = next(b for b in nag.blocks if b["type"] == "actions")["elements"]
    assert [a["text"]["text"] for a in actions] == ["Post update", "Snooze 30m", "Snooze 1h"]
    sweep(bot.ctx)
    assert len(nags_in(fake, channel)) == 1
    (next_nag,) = pending_tasks(bot, incident, "nag")
    assert next_nag.due_at == start + timedelta(hours=2)
    with bot.db.session() as session:
        recorded = session.exec(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "reminder"
            )
        ).all()
    assert [r.slack_ts for r in recorded if r.data["kind"] == "nag"] == [nag.ts]
    assert {r.data["kind"] for r in recorded} == {"nag", "response", "escalation"}


def test_a_commander_is_nagged_instead_of_the_reporter(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    run_command(bot, fake.alice, channel, f"role commander <@{fake.bob}|bob>")
    wait_for(lambda: (bot.incident(incident.reference) or incident).commander_id == fake.bob)
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=1))
    (nag,) = nags_in(fake, channel)
    assert f"<@{fake.bob}>" in nag.text and f"<@{fake.alice}>" not in nag.text


def _submit_update(bot: Harness, channel: str, **values: str) -> None:
    fake = bot.fake
    before = len(fake.opened_views(fake.alice))
    run_command(bot, fake.alice, channel, "update")
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    delivery = bot.submit(fake.alice, view, values)
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")


def test_an_update_resets_the_clock(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    clock.set(incident.declared_at + timedelta(minutes=40))
    _submit_update(bot, channel, what_changed="Rolled back")
    wait_for(
        lambda: (
            len(pending_tasks(bot, incident, "nag")) == 1
            and pending_tasks(bot, incident, "nag")[0].due_at == clock.now() + timedelta(hours=1)
        )
    )
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=1, minutes=10))
    assert nags_in(fake, channel) == []
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=1, minutes=40))
    assert len(nags_in(fake, channel)) == 1


def _click(bot: Harness, channel: str, message: Any, action_prefix: str) -> Any:
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    action_id = next(a["action_id"] for a in actions if a["action_id"].startswith(action_prefix))
    return bot.fake.send_block_action(
        bot.fake.alice, action_id, channel_id=channel, message_ts=message.ts, via=bot.via
    )


def _nagged(bot: Harness, clock: ManualClock) -> tuple[Incident, str, Any]:
    """A Sev2 an hour after its declaration: its channel has the first update nag."""
    incident = bot.declare(bot.fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=1))
    (nag,) = nags_in(bot.fake, channel)
    return incident, channel, nag


def test_snooze_moves_the_nag_once(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident, channel, nag = _nagged(bot, clock)
    clock.advance(timedelta(minutes=2))
    assert _click(bot, channel, nag, "incident_nag_snooze").status == 200
    wait_for(lambda: [m for m in fake.messages(channel) if "snoozed the update reminder" in m.text])
    (pending,) = pending_tasks(bot, incident, "nag")
    assert pending.due_at == clock.now() + timedelta(minutes=30)
    before = len(fake.responses)
    _click(bot, channel, nag, "incident_nag_snooze")  # clicked twice
    reply = wait_for(lambda: fake.responses[before].body if len(fake.responses) > before else None)
    assert "already snoozed" in reply["text"]
    (pending,) = pending_tasks(bot, incident, "nag")
    assert pending.due_at == clock.now() + timedelta(minutes=30)
    sweep_at(bot, clock, clock.now() + timedelta(minutes=29))
    assert len(nags_in(fake, channel)) == 1
    sweep_at(bot, clock, clock.now() + timedelta(minutes=1))
    assert len(nags_in(fake, channel)) == 2


def test_the_update_button_opens_the_form(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    _, channel, nag = _nagged(bot, clock)
    before = len(fake.opened_views(fake.alice))
    _click(bot, channel, nag, "incident_nag_update")
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    assert view["callback_id"] == "incident_update"


def test_forms_open_while_a_backlog_holds_every_worker(bot: Harness, clock: ManualClock) -> None:
    """A trigger_id lasts 3 s: a burst of notes and messages in a busy incident must not
    keep a form from opening, from a command or a button."""
    fake = bot.fake
    incident, channel, nag = _nagged(bot, clock)
    assert bot.ctx.wait_idle()
    release = threading.Event()
    for _ in range(WORK_THREADS * 2):  # every worker busy, and more waiting
        bot.ctx.defer(lambda: release.wait(60))
    try:
        before = len(fake.opened_views(fake.alice))
        run_command(bot, fake.alice, channel, "note behind the backlog")
        run_command(bot, fake.alice, channel, "update")
        run_command(bot, fake.alice, fake.incidents, "declare Second outage")
        _click(bot, channel, nag, "incident_nag_update")

        def opened() -> list[Any] | None:
            views = fake.opened_views(fake.alice)[before:]
            return views if len(views) >= 3 else None

        views = wait_for(opened)
        assert sorted(v["callback_id"] for v in views) == [
            "incident_declare",
            "incident_update",
            "incident_update",
        ]
        assert not [e for e in fake.calls_to("views.open") if not e.response.get("ok")]
        assert "behind the backlog" not in _timeline_texts(bot, incident)  # still queued
    finally:
        release.set()
    assert bot.ctx.wait_idle()
    assert "note behind the backlog" in _timeline_texts(bot, incident)


def test_lifecycle_changes_stay_off_the_form_pool(bot: Harness) -> None:
    """Only work that opens a form uses its pool: `status monitoring` is done while every
    form thread is busy."""
    incident = bot.declare(bot.fake.alice, severity="sev2")
    assert incident.channel_id is not None and bot.ctx.wait_idle()
    release = threading.Event()
    for _ in range(FORM_THREADS):
        bot.ctx.defer_form(lambda: release.wait(60))
    try:
        run_command(bot, bot.fake.alice, incident.channel_id, "status monitoring")
        wait_for(lambda: (bot.incident(incident.reference) or incident).status == "monitoring")
    finally:
        release.set()


def _timeline_texts(bot: Harness, incident: Incident) -> str:
    with bot.db.session() as session:
        rows = session.exec(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        ).all()
    return "\n".join(row.text for row in rows)


def test_snooze_on_a_closed_incident_is_refused(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3")
    channel = incident.channel_id
    assert channel is not None
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=4))
    (nag,) = nags_in(fake, channel)
    with bot.db.session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        row.status = "closed"
        session.add(row)
    before = len(fake.responses)
    _click(bot, channel, nag, "incident_nag_snooze")
    reply = wait_for(lambda: fake.responses[before].body if len(fake.responses) > before else None)
    assert "nothing to snooze" in reply["text"]


def test_severity_change_reschedules_at_the_new_cadence(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3")  # every 4 hours
    channel = incident.channel_id
    assert channel is not None
    clock.set(incident.declared_at + timedelta(minutes=10))
    run_command(bot, fake.alice, channel, "severity sev1")  # every 30 minutes
    wait_for(lambda: (bot.incident(incident.reference) or incident).severity == "sev1")
    (nag,) = pending_tasks(bot, incident, "nag")
    assert nag.due_at == incident.declared_at + timedelta(minutes=30)
    sweep_at(bot, clock, incident.declared_at + timedelta(minutes=30))
    assert len(nags_in(fake, channel)) == 1


def test_resolve_cancels_and_reopen_rearms(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    clock.set(incident.declared_at + timedelta(minutes=5))
    before = len(fake.opened_views(fake.alice))
    run_command(bot, fake.alice, channel, "resolve")
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    bot.submit(fake.alice, view, {"resolution": "Fixed"})
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")
    for kind in ("nag", "response", "escalation", "resolution", "stale"):
        assert pending_tasks(bot, incident, kind) == [], kind
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=10))
    assert reminders_in(fake, channel) == []

    reopened_at = clock.now()
    run_command(bot, fake.alice, channel, "reopen")
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "investigating")
    escalations = pending_tasks(bot, incident, "escalation")
    assert [e.due_at - reopened_at for e in escalations] == [
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=4),
    ]
    assert pending_tasks(bot, incident, "nag")[0].due_at == reopened_at + timedelta(minutes=30)


def test_response_target_pings_contacts_unless_someone_took_it(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    managers = fake.add_channel("managers", bot_member=True)
    cto = fake.add_user("cto")
    policy = make_policy(
        announcement_channel=fake.incidents,
        contacts={"it_manager": managers, "cto": cto, "ceo": None, "board": None},
    )
    bot = start_bot(fake, database_url, clock=clock, policy=policy)
    try:
        first = bot.declare(fake.alice, severity="sev1", title="Nobody home")
        taken = bot.declare(fake.alice, severity="sev1", title="Taken")
        assert taken.channel_id is not None and first.channel_id is not None
        run_command(bot, fake.alice, taken.channel_id, f"role commander <@{fake.bob}|bob>")
        wait_for(lambda: (bot.incident(taken.reference) or taken).commander_id == fake.bob)
        sweep_at(bot, clock, first.declared_at + timedelta(minutes=15))
        (ping,) = [m for m in reminders_in(fake, first.channel_id) if "response target" in m.text]
        # The first escalation step's targets only: not the CTO, the CEO and the board.
        assert f"<#{managers}>" in ping.text
        assert f"<@{cto}>" not in ping.text and "ceo" not in ping.text
        assert [m for m in reminders_in(fake, managers) if "response target" in m.text]
        assert not [m for m in reminders_in(fake, taken.channel_id) if "response target" in m.text]
        assert not [m for m in fake.messages(fake.dm_channel(cto)) if "response" in m.text]
    finally:
        bot.runtime.stop()


def test_escalation_steps_fire_once_each_even_after_downtime(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    # The bot was down for 5 hours: every step, one nag, one resolution ping; each once.
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=5))
    sweep(bot.ctx)
    escalations = [m for m in reminders_in(fake, channel) if "Escalation" in m.text]
    assert len(escalations) == 4
    assert ["after 30m" in escalations[0].text, "after 4h" in escalations[3].text] == [True, True]
    assert len(nags_in(fake, channel)) == 1
    assert len([m for m in reminders_in(fake, channel) if "resolution target" in m.text]) == 1
    assert len([m for m in reminders_in(fake, channel) if "response target" in m.text]) == 1


def test_stale_incidents_get_a_nudge_after_a_quiet_day(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev4")  # updates every 24 hours
    channel = incident.channel_id
    assert channel is not None
    clock.set(incident.declared_at + timedelta(hours=20))
    run_command(bot, fake.alice, channel, "note still looking")
    wait_for(lambda: [m for m in fake.messages(channel) if "still looking" in m.text])
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=24, minutes=1))
    assert not [m for m in reminders_in(fake, channel) if "no activity" in m.text]
    (stale,) = pending_tasks(bot, incident, "stale")
    assert stale.due_at == incident.declared_at + timedelta(hours=44)
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=44))
    assert len([m for m in reminders_in(fake, channel) if "no activity" in m.text]) == 1
    # Still quiet a day later: nudged again (a repeating reminder re-arms cleanly).
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=68))
    assert len([m for m in reminders_in(fake, channel) if "no activity" in m.text]) == 2


def test_reminders_command_lists_the_schedule(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    before = len(fake.responses)
    run_command(bot, fake.alice, channel, "reminders")
    text = wait_for(
        lambda: fake.responses[before].body["text"] if len(fake.responses) > before else None
    )
    for label in (
        "status update reminder",
        "response target check",
        "escalation to it manager",
        "escalation to board",
        "resolution target check",
        "inactivity check",
    ):
        assert label in text


def test_rate_limit_moves_the_reminder_without_doubling(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    fake.rate_limit("chat.postMessage", retry_after=30, times=3)
    sweep_at(bot, clock, incident.declared_at + timedelta(hours=1))
    assert nags_in(fake, channel) == []
    (nag,) = pending_tasks(bot, incident, "nag")
    assert nag.due_at == clock.now() + timedelta(seconds=30)
    assert nag.claim_token is None
    sweep_at(bot, clock, clock.now() + timedelta(seconds=30))
    assert len(nags_in(fake, channel)) == 1


# -- several processes, crashes --------------------------------------------------------


def _sweeper(url: str, fake: FakeSlack, moment: datetime, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sweeper_process",
            url,
            fake.api_url,
            moment.isoformat(),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _all_reminders(fake: FakeSlack) -> list[Any]:
    found = []
    for channel in list(fake.channels):
        found.extend(reminders_in(fake, channel))
    return found


@pytest.mark.parametrize("processes", [2, 3])
def test_several_processes_post_every_reminder_once(
    db: Database, database_url: str, fake_slack: FakeSlack, clock: ManualClock, processes: int
) -> None:
    if database_url.startswith("sqlite") and processes == 3:
        pytest.skip("SQLite runs with 2 processes; PostgreSQL with 3")
    if not database_url.startswith("sqlite") and processes == 2:
        pytest.skip("SQLite runs with 2 processes; PostgreSQL with 3")
    due = clock.now()
    seed_due_nags(db, fake_slack, 300, due)
    runners = [_sweeper(database_url, fake_slack, due) for _ in range(processes)]
    counts = []
    for runner in runners:
        out, _ = runner.communicate(timeout=240)
        assert runner.returncode == 0
        counts.append(int(out.strip().splitlines()[-1]))
    posts = _all_reminders(fake_slack)
    assert len(posts) == 300
    tasks_posted = [m.metadata["event_payload"]["task"] for m in posts]
    assert len(set(tasks_posted)) == 300
    assert sum(counts) == 300
    assert all(count > 0 for count in counts), counts  # the work was shared
    with db.session() as session:
        sent = session.exec(
            select(ScheduledTask).where(col(ScheduledTask.sent_at).is_not(None))
        ).all()
    assert len(sent) == 300


@pytest.mark.parametrize("applied", [False, True], ids=["killed-after-claim", "killed-after-post"])
def test_a_killed_sweeper_loses_and_doubles_nothing(
    db: Database, database_url: str, fake_slack: FakeSlack, clock: ManualClock, applied: bool
) -> None:
    due = clock.now()
    (incident_id,) = seed_due_nags(db, fake_slack, 1, due)
    fake_slack.delay("chat.postMessage", 4, times=1, then_apply=applied)
    runner = _sweeper(database_url, fake_slack, due, "--once")
    wait_for(lambda: _claimed(db), timeout=20)
    time.sleep(1.0)  # the post is in flight
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=10)
    time.sleep(3.5)  # let the fake finish (or drop) the delayed post
    assert len(_all_reminders(fake_slack)) == (1 if applied else 0)
    # Restarted after the dead holder's lease ran out.
    restarted = _sweeper(database_url, fake_slack, due + tasks.DEFAULT_LEASE + timedelta(seconds=1))
    restarted.communicate(timeout=60)
    assert restarted.returncode == 0
    posts = _all_reminders(fake_slack)
    assert len(posts) == 1
    with db.session() as session:
        nag = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident_id, ScheduledTask.key == "n1"
            )
        ).one()
    assert nag.state == TaskState.DONE and nag.slack_ts == posts[0].ts
    assert nag.attempts == 2


def _claimed(db: Database) -> bool:
    with db.session() as session:
        return (
            session.exec(
                select(ScheduledTask).where(col(ScheduledTask.claim_token).is_not(None))
            ).first()
            is not None
        )


def test_config_refuses_bad_reminder_policies(tmp_path: Path) -> None:
    from bot.errors import ConfigError
    from bot.policy import load_policy

    for text, expected in [
        ("severities:\n  sev1:\n    update_interval: 0s\n", "zero"),
        ("stale_after: -1h\n", "negative"),
        (
            "severities:\n  sev1:\n    escalation:\n"
            "      - after: 10m\n        notify: [U0OK, vp_eng]\n",
            "unknown notify target 'vp_eng'",
        ),
        ("snooze_options: []\n", "snooze_options"),
    ]:
        path = tmp_path / "p.yml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=expected):
            load_policy(path)


def test_an_escalation_step_can_also_send_direct_messages(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    manager = fake.add_user("manager")
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")
    data["contacts"]["it_manager"] = manager
    data["severities"]["sev3"]["escalation"] = [
        {"after": "1h", "notify": ["it_manager"], "dm": True}
    ]
    from bot.policy import Policy

    bot = start_bot(fake, database_url, clock=clock, policy=Policy.model_validate(data))
    try:
        incident = bot.declare(fake.alice, severity="sev3")
        channel = incident.channel_id
        assert channel is not None
        sweep_at(bot, clock, incident.declared_at + timedelta(hours=1))
        sweep(bot.ctx)
        (ping,) = [m for m in reminders_in(fake, channel) if "Escalation" in m.text]
        assert f"<@{manager}>" in ping.text
        (dm,) = [m for m in reminders_in(fake, fake.dm_channel(manager)) if "Escalation" in m.text]
        assert dm.text == ping.text
    finally:
        bot.runtime.stop()


def _slack_problems_told(fake: FakeSlack, channel: str) -> list[str]:
    return [m.text for m in fake.messages(channel, system=False) if "did not take" in m.text]


def test_a_refused_destination_is_said_and_the_others_still_go(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    manager = fake.add_user("manager")
    gone = fake.add_user("gone", deleted=True)
    leads = fake.add_channel("sre-leads", is_archived=True)
    outside = fake.add_channel("ops-watch", bot_member=False)  # public: the bot joins it
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")
    data["contacts"].update(
        {"it_manager": manager, "former": gone, "leads": leads, "ops": outside, "team": "S404"}
    )
    data["severities"]["sev3"]["escalation"] = [
        {"after": "1h", "notify": ["leads", "former", "team", "ops", "it_manager"], "dm": True}
    ]
    from bot.policy import Policy

    bot = start_bot(fake, database_url, clock=clock, policy=Policy.model_validate(data))
    try:
        incident = bot.declare(fake.alice, severity="sev3")
        channel = incident.channel_id
        assert channel is not None
        sweep_at(bot, clock, incident.declared_at + timedelta(hours=1))
        (ping,) = [m for m in reminders_in(fake, channel) if "Escalation" in m.text]
        assert all(f"<@{u}>" in ping.text for u in (manager, gone))
        assert reminders_in(fake, outside) and fake.bot_user_id in fake.channels[outside].members
        (dm,) = reminders_in(fake, fake.dm_channel(manager))
        assert dm.text == ping.text
        assert reminders_in(fake, leads) == []

        warnings = [
            m.text for m in fake.messages(channel, system=False) if "did not take" in m.text
        ]
        assert len(warnings) == 3
        assert any(f"<#{leads}>" in w and "archived" in w and "`contacts`" in w for w in warnings)
        assert any(f"<@{gone}>" in w and "cannot open a direct message" in w for w in warnings)
        assert any("S404" in w and "does not exist" in w for w in warnings)
        with bot.db.session() as session:
            problems = session.exec(
                select(TimelineEvent).where(
                    TimelineEvent.incident_id == incident.id,
                    TimelineEvent.kind == "slack_problem",
                )
            ).all()
            (step,) = session.exec(
                select(ScheduledTask).where(
                    ScheduledTask.incident_id == incident.id, ScheduledTask.kind == "escalation"
                )
            ).all()
        assert sorted(p.data["error"] for p in problems) == [
            "channel_not_found",  # what Slack answers a post to a deactivated person
            "is_archived",
            "no_such_subteam",
        ]
        assert step.state == TaskState.DONE and step.data["refused"] == {
            f"channel:{leads}": "is_archived",
            f"dm:{gone}": "channel_not_found",
        }
        sweep_at(bot, clock, clock.now() + timedelta(hours=2))
        assert len(_slack_problems_told(fake, channel)) == 3  # each said once
        assert len(reminders_in(fake, fake.dm_channel(manager))) == 1
    finally:
        bot.runtime.stop()
