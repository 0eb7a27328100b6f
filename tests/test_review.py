"""Post-incident review drafts and follow-up actions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import col, select

from bot.cli import main
from bot.clock import ManualClock
from bot.flows import review_generation
from bot.models import (
    ActionItem,
    Incident,
    PirDraft,
    ProcessHeartbeat,
    ScheduledTask,
    TaskState,
    TimelineEvent,
)
from bot.scheduler import sweep
from bot.services import task_schedule, tasks
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack

SECTIONS = [
    "# Post-incident review",
    "## Summary",
    "## Impact",
    "## Timeline",
    "## Detection",
    "## Response",
    "## Root cause and contributing factors",
    "## Resolution",
    "## What went well",
    "## What went wrong",
    "## Lessons learned",
    "## Follow-up actions",
]


def _run(bot: Harness, user: str, channel: str, text: str) -> str:
    assert bot.ctx.wait_idle()  # an earlier reply lands first
    before = len(bot.fake.responses)
    assert bot.command(user, channel, text).status == 200
    body = wait_for(
        lambda: bot.fake.responses[before].body if len(bot.fake.responses) > before else None,
        timeout=20,
    )
    return str(body.get("text", ""))


def _drafts(bot: Harness, incident: Incident) -> list[PirDraft]:
    with bot.db.session() as session:
        return list(
            session.exec(
                select(PirDraft)
                .where(PirDraft.incident_id == incident.id)
                .order_by(col(PirDraft.version))
            ).all()
        )


def _history_calls(fake: FakeSlack) -> int:
    return len(fake.calls_to("conversations.history")) + len(fake.calls_to("conversations.replies"))


def _busy_incident(bot: Harness) -> tuple[Incident, str]:
    fake = bot.fake
    incident = bot.declare(
        fake.alice,
        severity="sev3",
        title="Payments slow",
        description="Card payments time out",
        affected_services="payments",
    )
    channel = incident.channel_id
    assert channel is not None
    fake.post_user_message(fake.alice, channel, "p99 at 4s, started after deploy 812")
    key = fake.post_user_message(fake.alice, channel, "Rolled back deploy 812")
    fake.add_reaction(fake.alice, channel, key.message.ts, "pushpin")
    secret = fake.post_user_message(
        fake.alice,
        channel,
        "db url postgres://app:hunter2@db.internal/pay token xoxb-1234567890-abcdef "
        "mail ops@example.com key AKIAABCDEFGHIJKLMNOP Authorization: Bearer abcdef123456789",
    )
    fake.pin_message(fake.alice, channel, secret.message.ts)
    for n in range(5):
        fake.post_user_message(fake.alice, channel, f"chatter {n}")
    assert bot.command(fake.alice, channel, "status investigating").status == 200
    wait_for(lambda: [m for m in fake.messages(channel) if "to *Investigating*" in m.text])
    return incident, channel


def test_pir_outside_an_incident_channel(bot: Harness) -> None:
    assert "not an incident channel" in _run(bot, bot.fake.alice, bot.fake.incidents, "pir")


def test_pir_on_an_empty_timeline_says_so(bot: Harness) -> None:
    incident = bot.declare(bot.fake.alice, severity="sev4")
    assert incident.channel_id is not None
    text = _run(bot, bot.fake.alice, incident.channel_id, "pir")
    assert "nothing on its timeline yet" in text
    assert bot.fake.files == {}
    assert _drafts(bot, incident) == []


def test_pir_draft_from_a_complete_timeline(bot: Harness) -> None:
    fake = bot.fake
    incident, channel = _busy_incident(bot)
    before = _history_calls(fake)
    text = _run(bot, fake.alice, channel, "pir")
    assert "Draft v1" in text
    assert _history_calls(fake) == before  # the timeline was complete: no history read
    (draft,) = _drafts(bot, incident)
    markdown = draft.markdown
    positions = [markdown.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert incident.reference in markdown and "Payments slow" in markdown
    assert "Card payments time out" in markdown
    assert "📌" in markdown and "Rolled back deploy 812" in markdown
    assert "chatter 0" not in markdown  # routine chatter is summarised, not dumped
    assert "messages from 1 person" in markdown
    assert "To be investigated" in markdown  # root cause etc. not known yet
    for secret in (
        "hunter2",
        "xoxb-1234567890",
        "ops@example.com",
        "AKIAABCDEFGHIJKLMNOP",
        "abcdef123456789",
    ):
        assert secret not in markdown
    for mask in (
        "app:[masked password]@db.internal",
        "[masked slack-bot-token]",
        "[masked email]",
        "[masked aws-access-key]",
        "Bearer [masked bearer-token]",
    ):
        assert mask in markdown
    with bot.db.session() as session:
        raw = session.exec(
            select(TimelineEvent).where(col(TimelineEvent.text).contains("hunter2"))
        ).all()
    assert len(raw) == 1  # the raw timeline is untouched
    (file,) = fake.files.values()
    assert file.completed and channel in file.shares
    assert (file.data or b"").decode() == markdown
    assert file.name == f"{incident.reference}-pir-v1.md"

    _run(bot, fake.alice, channel, "pir")
    drafts = _drafts(bot, incident)
    assert [d.version for d in drafts] == [1, 2]
    assert drafts[0].markdown == markdown


def test_gaps_are_filled_from_slack_history(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident, channel = _busy_incident(bot)
    missed = [
        fake.post_user_message(fake.alice, channel, f"missed while down {n}", deliver=False)
        for n in range(450)
    ]
    with bot.db.session() as session:  # no process was alive during the incident
        session.execute(delete(ProcessHeartbeat))
    clock.advance(timedelta(minutes=10))
    before = _history_calls(fake)
    _run(bot, fake.alice, channel, "pir")
    calls = _history_calls(fake) - before
    assert calls == 3  # ceil(all messages / 200)
    with bot.db.session() as session:
        recorded = session.exec(
            select(TimelineEvent).where(col(TimelineEvent.text).startswith("missed while down"))
        ).all()
    assert len(recorded) == len(missed)
    (draft,) = _drafts(bot, incident)
    assert draft.history_calls == 3


def test_one_generation_at_a_time(bot: Harness) -> None:
    fake = bot.fake
    incident, channel = _busy_incident(bot)
    assert incident.id is not None
    now = bot.ctx.clock.now()
    with bot.db.session() as session:
        task = task_schedule.arm(
            session=session, incident_id=incident.id, kind="pir", due_at=now, now=now
        )
        task_id = task.id
    assert task_id is not None
    held = tasks.claim_task(db=bot.db, task_id=task_id, now=now)
    assert held is not None
    assert "being generated right now" in _run(bot, fake.alice, channel, "pir")
    assert fake.files == {}


def test_a_broken_team_template_falls_back_to_the_default(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    (tmp_path / "pir.md.j2").write_text("# {{ incident.reference }} {{ no_such_thing.x }}")
    policy = make_policy(announcement_channel=fake_slack.incidents, templates_dir=tmp_path)
    bot = start_bot(fake_slack, database_url, clock=clock, policy=policy)
    try:
        incident, channel = _busy_incident(bot)
        _run(bot, fake_slack.alice, channel, "pir")
        (draft,) = _drafts(bot, incident)
        assert "## Timeline" in draft.markdown
        assert "no_such_thing" in (draft.template_error or "")
        comment = [m for m in fake_slack.messages(channel) if m.files]
        assert "could not be used" in comment[-1].text
    finally:
        bot.runtime.stop()


def test_a_team_template_is_used(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    (tmp_path / "pir.md.j2").write_text(
        "# Our review of {{ incident.reference }}\n{{ root_cause }}\n"
    )
    policy = make_policy(announcement_channel=fake_slack.incidents, templates_dir=tmp_path)
    bot = start_bot(fake_slack, database_url, clock=clock, policy=policy)
    try:
        incident, channel = _busy_incident(bot)
        _run(bot, fake_slack.alice, channel, "pir")
        (draft,) = _drafts(bot, incident)
        assert draft.markdown.startswith(f"# Our review of {incident.reference}")
        assert draft.template_error is None
    finally:
        bot.runtime.stop()


def _resolve(bot: Harness, channel: str) -> None:
    fake = bot.fake
    before = len(fake.opened_views(fake.alice))
    assert bot.command(fake.alice, channel, "resolve").status == 200
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    bot.submit(fake.alice, view, {"resolution": "Rolled back", "root_cause": "Bad index"})


def test_resolving_a_sev2_drafts_the_review_and_schedules_its_reminder(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    fake.post_user_message(fake.alice, channel, "found it")
    _resolve(bot, channel)
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")
    sweep(bot.ctx)
    (draft,) = _drafts(bot, incident)
    assert "Bad index" in draft.markdown
    assert "Time to resolve" in draft.markdown and "target 8 h met" in draft.markdown
    with bot.db.session() as session:
        (review,) = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id, ScheduledTask.kind == "pir_review"
            )
        ).all()
    assert review.state == TaskState.PENDING
    assert timedelta(days=3) <= review.due_at - clock.now() <= timedelta(days=5)
    clock.set(review.due_at)
    sweep(bot.ctx)
    assert [m for m in fake.messages(channel) if "post-incident review by" in m.text]


def test_actions(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    assert "need an owner and a due date" in _run(bot, fake.alice, channel, "action Add an index")
    assert "not a date" in _run(
        bot, fake.alice, channel, f"action Add an index <@{fake.bob}|bob> due someday"
    )
    assert "must be a person" in _run(
        bot, fake.alice, channel, "action Add an index <@U0NOBODY|x> due tomorrow"
    )
    fake.post_user_message(fake.alice, channel, "noted")
    bot.command(fake.alice, channel, f"action Add an index <@{fake.bob}|bob> due tomorrow")
    wait_for(lambda: [m for m in fake.messages(channel) if "added action #1" in m.text])
    bot.command(fake.alice, channel, f"action Alert on p99 <@{fake.alice}|alice> due in 2w")
    wait_for(lambda: [m for m in fake.messages(channel) if "added action #2" in m.text])
    listing = _run(bot, fake.alice, channel, "actions")
    assert "#1" in listing and "Add an index" in listing and "0 of 2 done" in listing

    # Overdue: the owner and the channel hear of it, once a day at most.
    clock.advance(timedelta(days=2, hours=1))
    sweep(bot.ctx)
    sweep(bot.ctx)
    overdue = [m for m in fake.messages(channel) if "is overdue" in m.text]
    assert len(overdue) == 1 and f"<@{fake.bob}>" in overdue[0].text
    assert [m for m in fake.messages(fake.dm_channel(fake.bob)) if "is overdue" in m.text]
    clock.advance(timedelta(days=1))
    sweep(bot.ctx)
    assert len([m for m in fake.messages(channel) if "is overdue" in m.text]) == 2

    bot.command(fake.alice, channel, "action done 1")
    wait_for(lambda: [m for m in fake.messages(channel) if "completed action #1" in m.text])
    assert "already done" in _run(bot, fake.alice, channel, "action done 1")
    assert "no action #9" in _run(bot, fake.alice, channel, "action done 9")
    clock.advance(timedelta(days=1))
    sweep(bot.ctx)
    assert len([m for m in fake.messages(channel) if "is overdue" in m.text]) == 2
    with bot.db.session() as session:
        items = session.exec(select(ActionItem).order_by(col(ActionItem.number))).all()
    assert [(i.number, i.state) for i in items] == [(1, "done"), (2, "open")]

    _run(bot, fake.alice, channel, "pir")
    (draft,) = _drafts(bot, incident)
    assert "Completion: 1 of 2 done (50%)" in draft.markdown
    # Additions and completions are on the timeline as what they are, not as notes.
    with bot.db.session() as session:
        kinds = [
            e.kind
            for e in session.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.kind).in_(["action_added", "action_done", "note"]))
                .order_by(col(TimelineEvent.id))
            ).all()
        ]
    assert kinds == ["action_added", "action_added", "action_done"]
    assert "*Action added* — #1 Add an index (owner bob, due " in draft.markdown
    assert "*Action done* — #1 Add an index, by alice" in draft.markdown


def test_cli_exports_and_lists(
    bot: Harness,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = bot.fake
    incident, channel = _busy_incident(bot)
    bot.command(fake.alice, channel, f"action Fix retries <@{fake.bob}|bob> due tomorrow")
    wait_for(lambda: [m for m in fake.messages(channel) if "added action #1" in m.text])
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "review.md"
    # Never drafted in Slack: rendered from the record.
    assert main(["pir", incident.reference.lower(), "--output", str(out)]) == 0
    assert out.read_text().startswith(f"# Post-incident review: {incident.reference}")
    _run(bot, fake.alice, channel, "pir")
    assert main(["pir", incident.reference]) == 0
    (draft,) = _drafts(bot, incident)
    assert draft.markdown in capsys.readouterr().out
    assert main(["actions"]) == 0
    listed = capsys.readouterr().out
    assert "Fix retries" in listed and "0 of 1 actions done" in listed
    assert main(["actions", "--overdue"]) == 0
    assert "Fix retries" not in capsys.readouterr().out
    assert main(["pir", "INC-19990101-001"]) == 2


# -- failures ------------------------------------------------------------------------------


def _pir_task(bot: Harness, incident: Incident) -> ScheduledTask:
    with bot.db.session() as session:
        return session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id, ScheduledTask.kind == "pir"
            )
        ).one()


def _failure_notices(fake: FakeSlack, channel: str) -> list[str]:
    return [m.text for m in fake.messages(channel) if "could not be generated" in m.text]


def _resolved_sev2(bot: Harness) -> tuple[Incident, str]:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    fake.post_user_message(fake.alice, channel, "found it")
    _resolve(bot, channel)
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")
    return incident, channel


def test_a_failed_automatic_draft_backs_off_then_tells_the_channel_once(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident, channel = _resolved_sev2(bot)
    fake.server_error("files.completeUploadExternal", times=100)
    resolved_at = clock.now()
    delays = []
    for _ in range(review_generation.MAX_ATTEMPTS - 1):
        sweep(bot.ctx)
        task = _pir_task(bot, incident)
        assert task.state == TaskState.PENDING and task.claim_token is None
        assert "server_error" in (task.last_error or "")
        delays.append(task.due_at - clock.now())
        assert _failure_notices(fake, channel) == []
        clock.set(task.due_at)
    assert [d.total_seconds() for d in delays] == [5, 10, 20, 40, 80, 160, 320]
    assert clock.now() - resolved_at < timedelta(minutes=15)  # not ten years
    sweep(bot.ctx)  # the last attempt
    task = _pir_task(bot, incident)
    assert task.state == TaskState.DEAD
    (notice,) = _failure_notices(fake, channel)
    assert "Slack answered `server_error`" in notice and "`/incident pir`" in notice
    clock.advance(timedelta(hours=1))
    sweep(bot.ctx)
    assert len(_failure_notices(fake, channel)) == 1
    assert len(fake.calls_to("files.completeUploadExternal")) == review_generation.MAX_ATTEMPTS
    assert _drafts(bot, incident) == []

    # Once Slack works again, a person asks and gets the draft.
    fake.clear_faults()
    assert "Draft v1" in _run(bot, fake.alice, channel, "pir")
    assert _pir_task(bot, incident).state == TaskState.DONE


def test_a_rate_limited_upload_waits_for_retry_after(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident, channel = _resolved_sev2(bot)
    fake.rate_limit("files.getUploadURLExternal", retry_after=90)
    sweep(bot.ctx)
    task = _pir_task(bot, incident)
    assert task.state == TaskState.PENDING
    assert task.due_at == clock.now() + timedelta(seconds=90)
    assert _drafts(bot, incident) == []
    clock.advance(timedelta(seconds=89))
    sweep(bot.ctx)
    assert _drafts(bot, incident) == []
    clock.advance(timedelta(seconds=1))
    sweep(bot.ctx)
    (draft,) = _drafts(bot, incident)
    assert draft.version == 1 and _failure_notices(fake, channel) == []
    assert _pir_task(bot, incident).state == TaskState.DONE


def test_a_refused_upload_is_not_retried(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident, channel = _resolved_sev2(bot)
    fake.fail("files.completeUploadExternal", "file_uploads_except_images_disabled")
    sweep(bot.ctx)
    assert _pir_task(bot, incident).state == TaskState.DEAD
    (notice,) = _failure_notices(fake, channel)
    assert "file_uploads_except_images_disabled" in notice


def test_a_failed_request_is_explained_and_retried(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident, channel = _busy_incident(bot)
    fake.fail("files.completeUploadExternal", "internal_error")
    text = _run(bot, fake.alice, channel, "pir")
    assert "could not be generated: Slack answered `internal_error`" in text
    assert "I will try again at" in text
    assert _drafts(bot, incident) == []
    clock.set(_pir_task(bot, incident).due_at)
    sweep(bot.ctx)
    (draft,) = _drafts(bot, incident)
    assert draft.created_by is None and _failure_notices(fake, channel) == []


def test_nothing_to_review_is_not_a_failure(bot: Harness, clock: ManualClock) -> None:
    incident = bot.declare(bot.fake.alice, severity="sev4")
    assert incident.id is not None and incident.channel_id is not None
    with bot.db.session() as session:
        task_schedule.arm(
            session=session,
            incident_id=incident.id,
            kind="pir",
            due_at=clock.now(),
            now=clock.now(),
        )
    sweep(bot.ctx)
    task = _pir_task(bot, incident)
    assert task.state == TaskState.DONE and task.last_error is None
    assert bot.fake.files == {} and _failure_notices(bot.fake, incident.channel_id) == []
