"""Running an incident from its channel: subcommands, modals, and what they change."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.clock import ManualClock
from bot.models import (
    AuditEntry,
    ImpactPeriod,
    Incident,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
)
from tests.conftest import Harness, wait_for
from tests.fakeslack import FakeSlack


def _reply(fake: FakeSlack, count_before: int) -> str:
    """The text of the next response_url reply."""
    body = wait_for(
        lambda: fake.responses[count_before].body if len(fake.responses) > count_before else None
    )
    return str(body["text"])


def _run(bot: Harness, user: str, channel: str, text: str) -> None:
    delivery = bot.command(user, channel, text)
    assert delivery.status == 200


def _error(bot: Harness, user: str, channel: str, text: str) -> str:
    assert bot.ctx.wait_idle()  # an earlier reply lands first
    before = len(bot.fake.responses)
    _run(bot, user, channel, text)
    return _reply(bot.fake, before)


def _bot_posts(fake: FakeSlack, channel: str) -> list[Any]:
    return [m for m in fake.messages(channel, system=False) if m.user == fake.bot_user_id]


def _wait_post(fake: FakeSlack, channel: str, needle: str) -> Any:
    return wait_for(lambda: next((m for m in _bot_posts(fake, channel) if needle in m.text), None))


def _timeline(bot: Harness, incident: Incident, kind: str | None = None) -> list[TimelineEvent]:
    with bot.db.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        if kind is not None:
            query = query.where(TimelineEvent.kind == kind)
        return list(session.exec(query.order_by(col(TimelineEvent.id))).all())


def _audit(bot: Harness, incident: Incident, field: str) -> list[AuditEntry]:
    with bot.db.session() as session:
        return list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.incident_id == incident.id, AuditEntry.field == field)
                .order_by(col(AuditEntry.id))
            ).all()
        )


def _reload(bot: Harness, incident: Incident) -> Incident:
    row = bot.incident(incident.reference)
    assert row is not None
    return row


def test_help_is_generated_from_the_registry(bot: Harness) -> None:
    from bot.handlers.slash_command import build_registry

    text = _error(bot, bot.fake.alice, bot.fake.incidents, "help")
    for entry in build_registry().entries:
        assert f"/incident {entry.usage}" in text.replace("&lt;", "<").replace("&gt;", ">")


def test_commands_outside_an_incident_channel_are_refused(bot: Harness) -> None:
    for command in ("status investigating", "note hi", "update", "close"):
        text = _error(bot, bot.fake.alice, bot.fake.incidents, command)
        assert "not an incident channel" in text


def test_status_moves_stamp_milestones_and_edit_in_place(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    clock.advance(timedelta(minutes=5))
    _run(bot, fake.alice, channel, "status investigating")
    _wait_post(fake, channel, "from *Reported* to *Investigating*")
    row = _reload(bot, incident)
    assert row.status == "investigating"
    assert row.acknowledged_at == clock.now()
    assert row.identified_at is None

    clock.advance(timedelta(minutes=5))
    _run(bot, fake.alice, channel, "status monitoring")  # skips identified
    _wait_post(fake, channel, "to *Monitoring*")
    row = _reload(bot, incident)
    assert row.identified_at == row.mitigated_at == clock.now()
    assert row.acknowledged_at == clock.now() - timedelta(minutes=5)

    # Edited in place: one summary, the topic and announcement follow.
    assert len([m for m in _bot_posts(fake, channel) if m.ts == incident.summary_ts]) == 1
    wait_for(lambda: "Monitoring" in fake.channels[channel].topic)
    summary = next(m for m in fake.messages(channel) if m.ts == incident.summary_ts)
    assert "Monitoring" in json.dumps(summary.blocks)
    announcement = next(
        m for m in fake.messages(fake.incidents) if m.ts == incident.announcement_ts
    )
    wait_for(lambda: "Monitoring" in announcement.text)
    assert [a.new_value for a in _audit(bot, incident, "status")] == ["investigating", "monitoring"]
    assert all(a.actor_id == fake.alice for a in _audit(bot, incident, "status"))


def test_status_errors(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    assert "not a status" in _error(bot, fake.alice, channel, "status sleeping")
    assert "already reported" in _error(bot, fake.alice, channel, "status reported")
    assert "is *reported*" in _error(bot, fake.alice, channel, "status")
    assert _reload(bot, incident).status == "reported"


def test_severity_and_priority_changes_are_announced(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev3", impact="medium", urgency="medium")
    channel = incident.channel_id
    assert channel is not None
    _run(bot, fake.alice, channel, "severity 1")
    post = _wait_post(fake, channel, "changed the severity")
    assert "from *Sev3* to *Sev1*" in post.text
    wait_for(lambda: "Sev1" in fake.channels[channel].topic)
    assert "not a severity" in _error(bot, fake.alice, channel, "severity sev9")
    assert "already Sev1" in _error(bot, fake.alice, channel, "severity Sev1")

    _run(bot, fake.alice, channel, "priority high high")
    post = _wait_post(fake, channel, "changed the priority")
    assert "from *P3* to *P1*" in post.text
    row = _reload(bot, incident)
    assert (row.priority, row.impact, row.urgency) == ("P1", "high", "high")
    _run(bot, fake.alice, channel, "priority P4")
    _wait_post(fake, channel, "from *P1* to *P4*")
    assert "Give a priority" in _error(bot, fake.alice, channel, "priority urgent")
    # Copied under the announcement for the stakeholders.
    announcement = incident.announcement_ts
    thread = fake.thread(fake.incidents, announcement)
    assert any("changed the severity" in m.text for m in thread)


def _mention(user: str) -> str:
    return f"<@{user}|someone>"


def test_roles_assignment_and_handoff(bot: Harness) -> None:
    fake = bot.fake
    carol = fake.add_user("carol")
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    _run(bot, fake.alice, channel, f"role commander {_mention(fake.bob)}")
    _wait_post(fake, channel, "is now the *Incident Commander*")
    row = _reload(bot, incident)
    assert row.commander_id == fake.bob
    assert row.acknowledged_at is not None
    assert fake.bob in fake.channels[channel].members
    duties = wait_for(
        lambda: [m for m in fake.messages(fake.dm_channel(fake.bob)) if "duties" in m.text]
    )
    assert "Incident Commander" in duties[0].text
    wait_for(lambda: f"<@{fake.bob}>" in fake.channels[channel].topic)

    # A reassignment is a handoff: it asks for a note first.
    before = len(fake.opened_views(fake.bob))
    _run(bot, fake.bob, channel, f"role ic {_mention(carol)}")
    view = wait_for(lambda: fake.opened_views(fake.bob)[before:] or None)[-1]
    assert view["callback_id"] == "incident_handoff"
    assert _reload(bot, incident).commander_id == fake.bob
    delivery = bot.submit(
        fake.bob,
        view,
        {"known": "DB primary is down", "in_progress": "Failover running", "pending": ""},
    )
    assert delivery.status == 200
    post = _wait_post(fake, channel, "taking over from")
    assert "DB primary is down" in post.text
    row = _reload(bot, incident)
    assert row.commander_id == carol
    handoffs = _timeline(bot, incident, "handoff")
    assert handoffs[0].data["known"] == "DB primary is down"
    assert handoffs[0].data["from"] == fake.bob
    wait_for(
        lambda: [m for m in fake.messages(fake.dm_channel(carol)) if "Failover running" in m.text]
    )
    with bot.db.session() as session:
        assignments = session.exec(
            select(RoleAssignment).where(RoleAssignment.incident_id == incident.id)
        ).all()
    assert [(a.user_id, a.ended_at is None) for a in assignments] == [
        (fake.bob, False),
        (carol, True),
    ]

    _run(bot, carol, channel, f"role tech-lead {_mention(fake.alice)}")
    _wait_post(fake, channel, "is now the *Technical Lead*")
    summary = next(m for m in fake.messages(channel) if m.ts == incident.summary_ts)
    wait_for(lambda: "Technical Lead" in json.dumps(summary.blocks))


def test_role_errors(bot: Harness) -> None:
    fake = bot.fake
    robot = fake.add_user("robot", is_bot=True)
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    assert "not a role" in _error(bot, fake.alice, channel, f"role wizard {_mention(fake.bob)}")
    assert "Mention the person" in _error(bot, fake.alice, channel, "role commander bob")
    assert "cannot find" in _error(bot, fake.alice, channel, "role commander <@U0NOBODY>")
    assert "bot cannot" in _error(bot, fake.alice, channel, f"role commander {_mention(robot)}")
    assert "Usage" in _error(bot, fake.alice, channel, "role")
    assert _reload(bot, incident).commander_id is None


def test_note_goes_on_the_timeline_and_is_echoed(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    _run(bot, fake.alice, channel, "note Restarted <!channel> the cache & workers")
    post = _wait_post(fake, channel, "*Note* from")
    assert "&lt;!channel&gt;" in post.text
    (note,) = _timeline(bot, incident, "note")
    assert note.text == "Restarted <!channel> the cache & workers"
    assert note.actor_id == fake.alice
    assert "Write the note" in _error(bot, fake.alice, channel, "note")
    commands = _timeline(bot, incident, "command")
    assert [c.text for c in commands][-2:] == [
        "/incident note Restarted <!channel> the cache & workers",
        "/incident note",
    ]


def test_status_update_modal(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    before = len(fake.opened_views(fake.alice))
    _run(bot, fake.alice, channel, "update")
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    assert view["callback_id"] == "incident_update"
    clock.advance(timedelta(minutes=10))
    delivery = bot.submit(
        fake.alice,
        view,
        {
            "status": "identified",
            "what_changed": "Found a bad deploy",
            "current_impact": "EU checkout failing",
            "next_steps": "Roll back",
        },
    )
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")
    post = _wait_post(fake, channel, "Status update")
    assert "Found a bad deploy" in post.text and "Roll back" in post.text
    row = _reload(bot, incident)
    assert row.status == "identified"
    assert row.last_update_at == clock.now()
    # Default next update: the severity's interval (Sev2: 1 hour).
    assert row.next_update_due_at == clock.now() + timedelta(hours=1)
    assert row.impact_summary == "EU checkout failing"
    with bot.db.session() as session:
        (update,) = session.exec(
            select(StatusUpdate).where(StatusUpdate.incident_id == incident.id)
        ).all()
    assert update.author_id == fake.alice
    wait_for(lambda: _reload_update_ts(bot, update.id))
    thread = wait_for(lambda: fake.thread(fake.incidents, incident.announcement_ts) or None)
    assert "Found a bad deploy" in thread[-1].text

    # "No change, investigation ongoing" is a valid update.
    _run(bot, fake.alice, channel, "update")
    view = wait_for(lambda: fake.opened_views(fake.alice)[before + 1 :] or None)[-1]
    delivery = bot.submit(fake.alice, view, {})
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")
    wait_for(lambda: len(_timeline(bot, incident, "status_update")) == 2)
    assert "No change" in _timeline(bot, incident, "status_update")[-1].text


def _reload_update_ts(bot: Harness, update_id: int | None) -> str | None:
    with bot.db.session() as session:
        row = session.get(StatusUpdate, update_id)
        return row.channel_ts if row else None


def _resolve(bot: Harness, user: str, channel: str, **values: str) -> Any:
    before = len(bot.fake.opened_views(user))
    _run(bot, user, channel, "resolve")
    view = wait_for(lambda: bot.fake.opened_views(user)[before:] or None)[-1]
    assert view["callback_id"] == "incident_resolve"
    return bot.submit(user, view, values)


def test_resolve_close_reopen(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev1", impact="high", urgency="high")
    channel = incident.channel_id
    assert channel is not None
    assert "resolve it first" in _error(bot, fake.alice, channel, "close")

    clock.advance(timedelta(minutes=30))
    delivery = _resolve(bot, fake.alice, channel, resolution="Rolled back the deploy")
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")
    post = _wait_post(fake, channel, "resolved *")
    assert "post-incident review is required" in post.text
    row = _reload(bot, incident)
    assert row.status == "resolved"
    assert row.resolved_at == clock.now()
    assert row.acknowledged_at == row.identified_at == row.mitigated_at == row.resolved_at
    assert row.root_cause == "To be investigated"

    # Closing needs the fields the policy requires.
    text = _error(bot, fake.alice, channel, "close")
    assert "cannot be closed yet" in text and "root cause" in text and "impact" in text
    assert "already resolved" not in text

    # Resolving again fills in the details instead.
    delivery = _resolve(
        bot,
        fake.alice,
        channel,
        resolution="Rolled back the deploy",
        root_cause="A migration locked the orders table",
        impact_summary="EU checkout down for 30 minutes",
    )
    assert not (delivery.json or {}).get("errors")
    _wait_post(fake, channel, "updated the resolution details")
    assert _reload(bot, incident).status == "resolved"

    # `/incident close` asks why in a form; a real incident is the default answer.
    before = len(fake.opened_views(fake.alice))
    _run(bot, fake.alice, channel, "close")
    form = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    assert form["callback_id"] == "incident_close"
    delivery = bot.submit(fake.alice, form, {"closing_reason": "resolved"})
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")
    post = _wait_post(fake, channel, "closed *")
    assert "post-incident review is required" in post.text
    row = _reload(bot, incident)
    assert row.status == "closed" and row.closed_at == clock.now()
    assert row.closing_reason == "resolved"
    assert "already closed" in _error(bot, fake.alice, channel, "close")
    assert "reopen it" in _error(bot, fake.alice, channel, "resolve")

    clock.advance(timedelta(hours=1))
    _run(bot, fake.alice, channel, "reopen")
    _wait_post(fake, channel, "reopened *")
    row = _reload(bot, incident)
    assert row.status == "investigating"
    assert row.resolved_at is None and row.closed_at is None
    with bot.db.session() as session:
        periods = session.exec(
            select(ImpactPeriod)
            .where(ImpactPeriod.incident_id == incident.id)
            .order_by(col(ImpactPeriod.ordinal))
        ).all()
    assert [(p.ordinal, p.ended_at is None) for p in periods] == [(1, False), (2, True)]
    assert periods[1].started_at == clock.now()
    kinds = [e.kind for e in _timeline(bot, incident)]
    for kind in ("declared", "resolved", "closed", "reopened"):
        assert kind in kinds
    assert "not resolved" in _error(bot, fake.alice, channel, "reopen")


def test_resolve_modal_refuses_empty_fields(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    delivery = _resolve(bot, fake.alice, channel, resolution="   ")
    assert "resolution" in (delivery.json or {}).get("errors", {})
    assert _reload(bot, incident).status == "reported"


def test_impact_start(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    moment = (clock.now() - timedelta(hours=2)).replace(second=0)
    _run(bot, fake.alice, channel, f"started {moment.isoformat()}")
    _wait_post(fake, channel, "set the start of impact")
    assert _reload(bot, incident).impact_started_at == moment
    assert "not a time" in _error(bot, fake.alice, channel, "started yesterday-ish")
    future = (clock.now() + timedelta(hours=2)).isoformat()
    assert "future" in _error(bot, fake.alice, channel, f"started {future}")


def test_list_hides_private_incidents_from_non_members(bot: Harness) -> None:
    fake = bot.fake
    public = bot.declare(fake.alice, title="Public one")
    private = bot.declare(fake.alice, title="Secret one", is_private=["private"])
    text = _error(bot, fake.alice, fake.incidents, "list")
    assert public.reference in text and private.reference in text
    text = _error(bot, fake.bob, fake.incidents, "list")
    assert public.reference in text
    assert private.reference not in text and "Secret" not in text


def test_unknown_subcommand_shows_help(bot: Harness) -> None:
    text = _error(bot, bot.fake.alice, bot.fake.incidents, "dance")
    assert "I don't know" in text and "/incident update" in text


def test_long_text_is_cut_with_a_marker_not_refused(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, description="d" * 3000, affected_services="s" * 500)
    channel = incident.channel_id
    assert channel is not None
    long_note = "word " * 2500
    _run(bot, fake.alice, channel, f"note {long_note}")
    post = _wait_post(fake, channel, "*Note* from")
    assert "(truncated)" in post.text
    assert len(post.text) <= 4000
    assert all(c.response.get("ok") for c in fake.calls if c.method == "chat.postMessage")
    (note,) = _timeline(bot, incident, "note")
    assert note.text == long_note.strip()  # the record keeps it whole
