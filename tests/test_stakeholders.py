"""The stakeholder matrix: updates at each stakeholder's cadence, in its channels and by
email, skipped when nothing changed, stopped at resolve, never doubled, never leaking a
private incident."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.context import Context
from bot.models import (
    Incident,
    PublicUpdate,
    ScheduledTask,
    TaskKind,
)
from bot.policy import Policy
from bot.policy_defaults import default_policy_data
from bot.scheduler import sweep
from bot.slack.gateway import SlackGateway, make_clients
from tests.conftest import BOT_TOKEN, Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.support import (
    comms_entries,
    pending_tasks,
    reminders_in,
    resolve_by_form,
    run_command,
    sweep_at,
    tasks_of,
)

TITLE = "Checkout is failing"


def _policy(fake: FakeSlack, **changes: dict[str, Any]) -> Policy:
    """Executives in #execs every 2h (Sev1), customer support in #support every 30m (Sev1
    and Sev2, through a contact; a contact with no ID is skipped), business units by email
    every 4h (Sev1)."""
    execs = fake.add_channel("execs", bot_member=True)
    support = fake.add_channel("support", bot_member=True)
    stakeholders: list[dict[str, Any]] = [
        {"name": "executives", "targets": [execs], "severities": ["sev1"], "every": "2h"},
        {
            "name": "customer_support",
            "targets": ["support_desk", "support_manager"],
            "severities": ["sev1", "sev2"],
            "every": "30m",
            "template": "customer_support",
        },
        {
            "name": "business_units",
            "email": ["bu-leads@example.com", "ops@example.com"],
            "severities": ["sev1"],
            "every": "4h",
            "template": "business_units",
        },
    ]
    for entry in stakeholders:
        entry.update(changes.get(str(entry["name"]), {}))
    return make_policy(
        announcement_channel=fake.incidents,  # type: ignore[attr-defined]
        contacts={
            **default_policy_data()["contacts"],
            "support_desk": support,
            "support_manager": None,
        },
        stakeholders=stakeholders,
    )


@pytest.fixture
def sbot(fake_slack: FakeSlack, database_url: str, clock: ManualClock) -> Iterator[Harness]:
    """The bot with the stakeholder matrix above."""
    with start_bot(fake_slack, database_url, clock=clock, policy=_policy(fake_slack)) as harness:
        yield harness


def _channel(fake: FakeSlack, name: str) -> str:
    found = fake.channel_by_name(name)
    assert found is not None
    return found.id


def _updates(fake: FakeSlack, name: str, heading: str) -> list[Any]:
    return reminders_in(fake, _channel(fake, name), heading)


def _execs(fake: FakeSlack) -> list[Any]:
    return _updates(fake, "execs", "Executive update")


def _support(fake: FakeSlack) -> list[Any]:
    return _updates(fake, "support", "Talking points")


def _email_tasks(bot: Harness, incident: Incident) -> list[ScheduledTask]:
    return tasks_of(bot, incident, TaskKind.EMAIL, key_prefix="stakeholder:")


def _submit_update(bot: Harness, channel: str, **values: str) -> None:
    fake = bot.fake
    before = len(fake.opened_views(fake.alice))  # type: ignore[attr-defined]
    run_command(bot, fake.alice, channel, "update")  # type: ignore[attr-defined]
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]  # type: ignore[attr-defined]
    delivery = bot.submit(fake.alice, view, values)  # type: ignore[attr-defined]
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")


def _publish(bot: Harness, incident: Incident, message: str) -> None:
    """A public update as the status page's approval flow leaves it: published."""
    now = bot.ctx.clock.now()
    assert incident.id is not None
    with bot.db.session() as session:
        session.add(
            PublicUpdate(
                incident_id=incident.id,
                state="published",
                status="identified",
                title="Checkout problems",
                message=message,
                author_id=bot.fake.alice,  # type: ignore[attr-defined]
                published_at=now,
                created_at=now,
                updated_at=now,
            )
        )


def test_a_sev1_updates_its_stakeholders_at_their_cadence(
    sbot: Harness, clock: ManualClock
) -> None:
    fake = sbot.fake
    incident = sbot.declare(
        fake.alice,  # type: ignore[attr-defined]
        severity="sev1",
        title=TITLE,
        affected_services="checkout, payments",
    )
    start = incident.declared_at
    sweep_at(sbot, clock, start)
    (first,) = _execs(fake)
    for expected in (TITLE, "Sev1", "Reported", "not assigned yet", "next update due"):
        assert expected in first.text, expected
    (talking,) = _support(fake)
    assert "Nothing has been published on the status page yet" in talking.text
    assert "Do not confirm" in talking.text
    # Only the stakeholders' own channels: the contact with no Slack ID is left out.
    assert not [m for m in fake.messages(fake.incidents) if "Executive update" in m.text]  # type: ignore[attr-defined]

    # Executives every 2 hours; customer support every 30 minutes, skipped while unchanged.
    sweep_at(sbot, clock, start + timedelta(minutes=30))
    assert len(_support(fake)) == 1
    (pending,) = pending_tasks(sbot, incident, TaskKind.STAKEHOLDER)[:1]
    assert pending.key == "customer_support" and pending.due_at == start + timedelta(hours=1)
    sweep_at(sbot, clock, start + timedelta(hours=1, minutes=59))
    assert len(_execs(fake)) == 1

    # A status update in between: the next talking points carry it.
    assert incident.channel_id is not None
    clock.set(start + timedelta(hours=1, minutes=40))
    _submit_update(
        sbot,
        incident.channel_id,
        what_changed="Rolled back the deploy",
        current_impact="Some card payments fail",
        next_steps="Watch error rates",
    )
    wait_for(lambda: _has_update(sbot, incident))
    sweep_at(sbot, clock, start + timedelta(hours=2))
    assert len(_execs(fake)) == 2
    assert "Watch error rates" in _execs(fake)[-1].text
    support = _support(fake)
    assert len(support) == 2
    assert "Rolled back the deploy" in support[-1].text
    assert "Some card payments fail" in support[-1].text

    # The last public message becomes what support may tell customers.
    clock.set(start + timedelta(hours=2, minutes=10))
    _publish(sbot, incident, "We have identified a problem with card payments.")
    sweep_at(sbot, clock, start + timedelta(hours=2, minutes=30))
    latest = _support(fake)[-1]
    assert "What customers can be told" in latest.text
    assert "We have identified a problem with card payments." in latest.text
    assert "Nothing has been published" not in latest.text

    comms = comms_entries(sbot, incident)
    support_comms = [c for c in comms if c["what"] == "stakeholder:customer_support"]
    assert [c["outcome"] for c in support_comms] == [
        "sent",
        "skipped",
        "skipped",  # 1h30: nothing new yet
        "sent",
        "sent",
    ]
    assert {c["via"] for c in support_comms} == {"slack"}
    assert {tuple(c["to"]) for c in support_comms} == {(_channel(fake, "support"),)}


def _has_update(bot: Harness, incident: Incident) -> bool:
    with bot.db.session() as session:
        row = session.get(Incident, incident.id)
    return row is not None and row.last_update_at is not None


def test_unchanged_updates_go_out_when_the_policy_says_not_to_skip(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    policy = _policy(fake_slack, customer_support={"skip_unchanged": False})
    with start_bot(fake_slack, database_url, clock=clock, policy=policy) as bot:
        incident = bot.declare(fake_slack.alice, severity="sev2", title=TITLE)  # type: ignore[attr-defined]
        start = incident.declared_at
        for minutes in (0, 30, 60):
            sweep_at(bot, clock, start + timedelta(minutes=minutes))
        assert len(_support(fake_slack)) == 3
        assert _execs(fake_slack) == []  # executives follow Sev1 only
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["sent"] * 3


def test_a_sev3_gets_no_stakeholder_updates(sbot: Harness, clock: ManualClock) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev3", title=TITLE)  # type: ignore[attr-defined]
    assert pending_tasks(sbot, incident, TaskKind.STAKEHOLDER) == []
    sweep_at(sbot, clock, incident.declared_at + timedelta(hours=5))
    assert _execs(fake) == [] and _support(fake) == []
    assert comms_entries(sbot, incident) == []


def test_raising_the_severity_starts_the_stakeholders(sbot: Harness, clock: ManualClock) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev3", title=TITLE)  # type: ignore[attr-defined]
    assert incident.channel_id is not None
    clock.set(incident.declared_at + timedelta(minutes=10))
    run_command(sbot, fake.alice, incident.channel_id, "severity sev1")  # type: ignore[attr-defined]
    wait_for(lambda: len(pending_tasks(sbot, incident, TaskKind.STAKEHOLDER)) == 3)
    sweep(sbot.ctx)
    (update,) = _execs(fake)
    assert "Sev1" in update.text
    assert len(_support(fake)) == 1
    # Lowered to Sev2: executives stop, customer support goes on.
    clock.set(incident.declared_at + timedelta(minutes=20))
    run_command(sbot, fake.alice, incident.channel_id, "severity sev2")  # type: ignore[attr-defined]
    wait_for(
        lambda: (
            [t.key for t in pending_tasks(sbot, incident, TaskKind.STAKEHOLDER)]
            == ["customer_support"]
        )
    )
    sweep_at(sbot, clock, incident.declared_at + timedelta(hours=3))
    assert len(_execs(fake)) == 1
    assert len(_support(fake)) == 2  # the severity changed since the last one


def test_resolve_sends_a_last_update_then_stops_and_reopen_starts_them(
    sbot: Harness, clock: ManualClock
) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev1", title=TITLE)  # type: ignore[attr-defined]
    channel = incident.channel_id
    assert channel is not None
    sweep_at(sbot, clock, incident.declared_at)
    assert len(_execs(fake)) == 1
    clock.set(incident.declared_at + timedelta(minutes=5))
    resolve_by_form(sbot, incident, resolution="Fixed")
    # Those who heard of it get one last update, at once, saying it is resolved.
    due = pending_tasks(sbot, incident, TaskKind.STAKEHOLDER)
    assert sorted(t.key for t in due) == ["business_units", "customer_support", "executives"]
    assert {t.due_at for t in due} == {clock.now()}
    sweep(sbot.ctx)
    for updates in (_execs(fake), _support(fake)):
        assert len(updates) == 2
        assert "*Resolved*" in updates[-1].text and "last update" in updates[-1].text
        assert "after 5m." in updates[-1].text and "Next update" not in updates[-1].text
    assert "ETA" not in _execs(fake)[-1].text
    subjects = [t.data["subject"] for t in _email_tasks(sbot, incident)]
    assert len(subjects) == 2 and "Resolved — Impact assessment" in subjects[-1]
    assert "Resolved" not in subjects[0]
    assert pending_tasks(sbot, incident, TaskKind.STAKEHOLDER) == []
    sweep_at(sbot, clock, incident.declared_at + timedelta(hours=10))
    assert len(_execs(fake)) == 2 and len(_support(fake)) == 2

    run_command(sbot, fake.alice, channel, "reopen")  # type: ignore[attr-defined]
    wait_for(lambda: len(pending_tasks(sbot, incident, TaskKind.STAKEHOLDER)) == 3)
    sweep(sbot.ctx)
    assert len(_execs(fake)) == 3
    assert "Investigating" in _execs(fake)[-1].text and "*Resolved*" not in _execs(fake)[-1].text


def test_a_private_incident_shows_no_title_outside_its_channel(
    sbot: Harness, clock: ManualClock
) -> None:
    fake = sbot.fake
    incident = sbot.declare(
        fake.alice,  # type: ignore[attr-defined]
        severity="sev1",
        title="Payroll export leaked",
        affected_services="payroll",
        is_private=["private"],
    )
    assert incident.channel_id is not None
    clock.set(incident.declared_at + timedelta(minutes=1))
    _submit_update(sbot, incident.channel_id, what_changed="Found the leaking bucket")
    wait_for(lambda: _has_update(sbot, incident))
    sweep(sbot.ctx)
    (executive,) = _execs(fake)
    (support,) = _support(fake)
    for text in (executive.text, support.text):
        assert incident.reference in text
        assert "Payroll" not in text and "payroll" not in text
        assert "leaking bucket" not in text
        assert "private incident" in text
    assert f"<@{fake.alice}>" not in executive.text  # type: ignore[attr-defined]
    (email,) = _email_tasks(sbot, incident)
    for part in ("subject", "text", "html"):
        assert "ayroll" not in email.data[part], part


def test_email_stakeholders_get_an_email_task(sbot: Harness, clock: ManualClock) -> None:
    fake = sbot.fake
    incident = sbot.declare(
        fake.alice,  # type: ignore[attr-defined]
        severity="sev1",
        title="Checkout <b>down</b> & out",
        affected_services="checkout",
    )
    sweep_at(sbot, clock, incident.declared_at)
    (email,) = _email_tasks(sbot, incident)
    assert email.key == "stakeholder:business_units:1"
    data = email.data
    assert data["to"] == ["bu-leads@example.com", "ops@example.com"]
    assert data["targets"] == []
    assert incident.reference in data["subject"] and "Impact assessment" in data["subject"]
    assert "Affected services: checkout" in data["text"]
    assert "Checkout <b>down</b> & out" in data["text"]  # plain text, as written
    assert "Checkout &lt;b&gt;down&lt;/b&gt; &amp; out" in data["html"]  # escaped
    assert "<b>down" not in data["html"]
    # The email runner sends it and puts its outcome on the timeline, as this update.
    assert sbot.ctx.wait_idle()
    (recorded,) = [c for c in comms_entries(sbot, incident) if c["via"] == "email"]
    assert recorded["what"] == "stakeholder:business_units"
    # Four hours on, nothing changed: skipped, no second email; then a change: a new one.
    sweep_at(sbot, clock, incident.declared_at + timedelta(hours=4))
    assert len(_email_tasks(sbot, incident)) == 1
    assert incident.channel_id is not None
    clock.set(incident.declared_at + timedelta(hours=5))
    _submit_update(sbot, incident.channel_id, current_impact="Half of the EU customers")
    wait_for(lambda: _has_update(sbot, incident))
    sweep_at(sbot, clock, incident.declared_at + timedelta(hours=8))
    emails = _email_tasks(sbot, incident)
    assert [e.key for e in emails] == [
        "stakeholder:business_units:1",
        "stakeholder:business_units:3",
    ]
    assert "Half of the EU customers" in emails[1].data["text"]


def _other_process(bot: Harness) -> Context:
    """Another replica's view of the same database and workspace."""
    retrying, creating = make_clients(BOT_TOKEN, bot.fake.api_url)
    return Context(
        policy=bot.ctx.policy,
        db=bot.db,
        slack=SlackGateway(retrying, creating),
        clock=bot.ctx.clock,
    )


def test_two_sweepers_racing_post_each_update_once(sbot: Harness, clock: ManualClock) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev1", title=TITLE)  # type: ignore[attr-defined]
    other = _other_process(sbot)
    try:
        clock.set(incident.declared_at)
        barrier = threading.Barrier(2)

        def run(ctx: Context) -> None:
            barrier.wait()
            sweep(ctx)

        threads = [threading.Thread(target=run, args=(c,)) for c in (sbot.ctx, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        sweep(other)
        assert len(_execs(fake)) == 1 and len(_support(fake)) == 1
        assert len(_email_tasks(sbot, incident)) == 1
        sent = [c for c in comms_entries(sbot, incident) if c["via"] == "slack"]
        assert [c["outcome"] for c in sent] == ["sent", "sent"]  # executives, support
    finally:
        other.close()


def test_an_update_posted_before_a_crash_is_not_posted_again(
    sbot: Harness, clock: ManualClock
) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev1", title=TITLE)  # type: ignore[attr-defined]
    # Slack takes the post but its answer is lost: the sweeper gives the task back, as a
    # process that died after posting would leave it.
    fake.server_error("chat.postMessage", then_apply=True)
    sweep_at(sbot, clock, incident.declared_at)
    assert len(_execs(fake)) == 1 and len(_support(fake)) == 1
    retried = [t for t in pending_tasks(sbot, incident, TaskKind.STAKEHOLDER) if t.attempts]
    assert len(retried) == 1 and retried[0].sent_at is None
    sweep_at(sbot, clock, clock.now() + timedelta(minutes=1))
    assert len(_execs(fake)) == 1 and len(_support(fake)) == 1
    sent = [
        c for c in comms_entries(sbot, incident) if c["outcome"] == "sent" and c["via"] == "slack"
    ]
    assert len(sent) == 2


def test_user_groups_and_people_get_direct_messages(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    cfo = fake.add_user("cfo")
    group = fake.add_usergroup("leadership", members=[fake.bob, cfo])  # type: ignore[attr-defined]
    policy = _policy(fake, executives={"targets": [group, fake.alice]})  # type: ignore[attr-defined]
    with start_bot(fake, database_url, clock=clock, policy=policy) as bot:
        incident = bot.declare(fake.alice, severity="sev1", title=TITLE)  # type: ignore[attr-defined]
        sweep_at(bot, clock, incident.declared_at)
        for person in (fake.bob, cfo, fake.alice):  # type: ignore[attr-defined]
            (update,) = reminders_in(fake, fake.dm_channel(person), "Executive update")
            assert TITLE in update.text
        (recorded,) = [
            c for c in comms_entries(bot, incident) if c["what"] == "stakeholder:executives"
        ]
        assert sorted(recorded["to"]) == sorted([fake.bob, cfo, fake.alice])  # type: ignore[attr-defined]


def test_a_refused_destination_is_told_once_and_tried_again_at_each_update(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    policy = _policy(fake, customer_support={"skip_unchanged": False})
    with start_bot(fake, database_url, clock=clock, policy=policy) as bot:
        incident = bot.declare(fake.alice, severity="sev2", title=TITLE)  # type: ignore[attr-defined]
        assert incident.channel_id is not None
        support = _channel(fake, "support")
        fake.channels[support].is_archived = True
        start = incident.declared_at
        for minutes in (0, 30):
            sweep_at(bot, clock, start + timedelta(minutes=minutes))
        assert _support(fake) == []
        tries = [c for c in fake.calls_to("chat.postMessage") if c.args.get("channel") == support]
        assert len(tries) == 2  # once per update, not given up for good
        told = [
            m.text
            for m in fake.messages(incident.channel_id, system=False)
            if "did not take" in m.text
        ]
        assert len(told) == 1 and f"<#{support}>" in told[0] and "archived" in told[0]

        fake.channels[support].is_archived = False  # restored: the next update reaches it
        sweep_at(bot, clock, start + timedelta(minutes=60))
        assert len(_support(fake)) == 1


def test_a_stakeholder_added_to_the_policy_follows_open_incidents_from_the_restart(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    full = _policy(fake)
    before = full.model_copy(
        update={"stakeholders": [s for s in full.stakeholders if s.name != "executives"]}
    )
    with start_bot(fake, database_url, clock=clock, policy=before) as bot:
        incident = bot.declare(fake.alice, severity="sev1", title=TITLE)  # type: ignore[attr-defined]
        sweep_at(bot, clock, incident.declared_at)
        assert _execs(fake) == [] and len(_support(fake)) == 1

    clock.set(incident.declared_at + timedelta(minutes=20))
    bot = start_bot(fake, database_url, clock=clock, policy=full)  # executives added
    try:
        assert bot.ctx.wait_idle()
        due = {t.key: t.due_at for t in pending_tasks(bot, incident, TaskKind.STAKEHOLDER)}
        assert due["executives"] == clock.now()  # the new one starts now
        assert due["customer_support"] == incident.declared_at + timedelta(minutes=30)  # as it was
        sweep(bot.ctx)
        (update,) = _execs(fake)
        assert TITLE in update.text and len(_support(fake)) == 1
    finally:
        bot.runtime.stop()
