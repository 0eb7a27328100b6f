"""Declaring an incident end to end: signed requests in, Slack calls and rows out."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.models import Incident, ScheduledTask, TaskState, TimelineEvent
from bot.scheduler import sweep
from bot.slack.catalog import METHODS
from tests.conftest import Harness, start_bot, wait_for
from tests.fakeslack import FakeSlack

CHANNEL_RULE = re.compile(r"^[a-z0-9_-]{1,80}$")
REF_RULE = re.compile(r"^INC-\d{8}-\d{3}$")


def _texts(fake: FakeSlack) -> str:
    """Everything the bot sent to Slack, as one string."""
    return json.dumps([call.args for call in fake.calls])


def _posts(fake: FakeSlack, channel: str, kind: str | None = None) -> list[Any]:
    return [
        m
        for m in fake.messages(channel)
        if m.user == fake.bot_user_id
        and not m.subtype
        and (kind is None or (m.metadata or {}).get("event_type") == kind)
    ]


# -- the modal --------------------------------------------------------------------------


def test_plain_command_opens_the_modal(bot: Harness) -> None:
    fake = bot.fake
    delivery = bot.command(fake.alice, fake.incidents)
    assert delivery.status == 200
    view = wait_for(lambda: (fake.opened_views(fake.alice) or [None])[-1])
    assert view["callback_id"] == "incident_declare"
    block_ids = [block.get("block_id") for block in view["blocks"]]
    for field in ("title", "description", "severity", "category", "impact", "urgency"):
        assert field in block_ids
    assert "affected_services" in block_ids and "is_private" in block_ids
    description = next(b for b in view["blocks"] if b.get("block_id") == "description")
    scaffold = description["element"]["initial_value"]
    assert "Environment:" in scaffold and "Symptoms:" in scaffold
    assert "Steps to reproduce:" in scaffold
    severity = next(b for b in view["blocks"] if b.get("block_id") == "severity")
    options = severity["element"]["options"]
    assert [o["text"]["text"] for o in options] == ["Sev1", "Sev2", "Sev3", "Sev4"]
    assert all(o["description"]["text"] for o in options)


def test_declare_with_title_prefills_it(bot: Harness) -> None:
    view = bot.open_declare(bot.fake.alice, bot.fake.incidents, "declare Payments are slow")
    title = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "Payments are slow"


# -- the whole flow ---------------------------------------------------------------------


def test_declare_sets_everything_up_in_order(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(
        fake.alice,
        title="Checkout is failing",
        severity="sev1",
        impact="high",
        urgency="high",
        affected_services="checkout, payments",
        description="Environment: prod\nSymptoms: 500s",
    )
    assert REF_RULE.match(incident.reference)
    assert incident.priority == "P1"
    assert incident.status == "reported"
    assert incident.affected_services == "checkout, payments"

    channel = fake.channels[incident.channel_id]
    assert channel.name == f"{incident.reference.lower()}-checkout-is-failing"
    assert CHANNEL_RULE.match(channel.name)
    assert not channel.is_private
    assert fake.alice in channel.members
    assert incident.reference in channel.topic
    assert "Sev1" in channel.topic and "Reported" in channel.topic
    assert "Commander: unassigned" in channel.topic

    (summary,) = _posts(fake, channel.id)
    assert summary.ts == incident.summary_ts
    assert summary.ts in channel.pins
    assert "Checkout is failing" in json.dumps(summary.blocks)
    assert summary.metadata["event_type"] == "incident_summary"

    (announcement,) = _posts(fake, fake.incidents)
    assert announcement.ts == incident.announcement_ts
    assert f"<#{channel.id}>" in json.dumps(announcement.blocks)

    dm = fake.dm_channel(fake.alice)
    (confirmation,) = _posts(fake, dm)
    assert f"<#{channel.id}>" in confirmation.text

    methods = [call.method for call in fake.calls if call.method != "auth.test"]
    assert methods == [
        "views.open",
        "conversations.create",
        "conversations.invite",
        "conversations.setTopic",
        "chat.postMessage",
        "pins.add",
        "chat.postMessage",
        "chat.postMessage",
    ]
    assert {call.method for call in fake.calls} <= set(METHODS)

    with bot.db.session() as session:
        events = session.exec(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        ).all()
        task = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id, ScheduledTask.kind == "provision"
            )
        ).one()
    assert [e.kind for e in events] == ["declared", "bot_post", "bot_post", "slack_setup"]
    assert events[0].actor_id == fake.alice
    assert task.state == TaskState.DONE


def test_private_incident(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, title="Suspicious logins", is_private=["private"])
    assert incident.is_private
    channel = fake.channels[incident.channel_id]
    assert channel.is_private
    assert fake.alice in channel.members
    assert _posts(fake, fake.incidents) == []
    assert "Suspicious" not in _texts_in(fake, fake.incidents)


def _texts_in(fake: FakeSlack, channel: str) -> str:
    return json.dumps([(m.text, m.blocks) for m in fake.messages(channel)])


def test_declare_from_a_direct_message(bot: Harness) -> None:
    fake = bot.fake
    dm = fake.dm_channel(fake.bob)
    view = bot.open_declare(fake.bob, dm)
    bot.submit(
        fake.bob,
        view,
        {
            "title": "From a DM",
            "severity": "sev4",
            "category": "other",
            "impact": "low",
            "urgency": "low",
        },
    )
    incident = wait_for(lambda: bot.latest_incident(fake.bob))
    incident = wait_for(lambda: bot.incident(incident.reference, done=True))
    assert incident.declared_in_channel == dm
    assert fake.bob in fake.channels[incident.channel_id].members


def test_hostile_text_is_shown_as_typed(bot: Harness) -> None:
    fake = bot.fake
    title = "<!channel> db down & <slow>"
    incident = bot.declare(
        fake.alice,
        title=title,
        description="<!here> see <https://evil.example|https://bank.example> <!subteam^S1>",
        affected_services="<!everyone>",
    )
    assert incident.title == title
    sent = _texts(fake)
    for forbidden in ("<!channel>", "<!here>", "<!everyone>", "<!subteam", "<https://evil"):
        assert forbidden not in sent
    assert "&lt;!channel&gt; db down &amp; &lt;slow&gt;" in sent
    assert fake.channels[incident.channel_id].name.endswith("-channel-db-down-slow")


def test_emoji_and_right_to_left_titles(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, title="🔥 الدفع معطل 🔥")
    assert incident.title == "🔥 الدفع معطل 🔥"
    assert fake.channels[incident.channel_id].name == incident.reference.lower()


def test_references_increase_and_channels_differ(bot: Harness) -> None:
    fake = bot.fake
    first = bot.declare(fake.alice, title="Same title")
    second = bot.declare(fake.bob, title="Same title")
    assert first.reference != second.reference
    assert first.channel_id != second.channel_id


# -- bad input --------------------------------------------------------------------------


def _submission_errors(bot: Harness, values: dict[str, Any]) -> dict[str, str]:
    view = bot.open_declare(bot.fake.alice, bot.fake.incidents)
    delivery = bot.submit(bot.fake.alice, view, values)
    assert delivery.status == 200
    body = delivery.json or {}
    assert body.get("response_action") == "errors", body
    return dict(body["errors"])


def _valid(**overrides: Any) -> dict[str, Any]:
    values = {
        "title": "x",
        "severity": "sev2",
        "category": "software",
        "impact": "high",
        "urgency": "low",
    }
    values.update(overrides)
    return values


def test_blank_title_is_refused_inline(bot: Harness) -> None:
    errors = _submission_errors(bot, _valid(title="   "))
    assert set(errors) == {"title"}
    assert "blank" in errors["title"]
    assert bot.latest_incident(bot.fake.alice) is None


def _forged_submission(bot: Harness, values: dict[str, Any]) -> Any:
    """A signed view submission whose state says what the modal could not offer."""
    fake = bot.fake
    view = bot.open_declare(fake.alice, fake.incidents)
    state: dict[str, Any] = {}
    for block_id, value in values.items():
        if block_id in ("title", "description", "affected_services"):
            state[block_id] = {"value": {"type": "plain_text_input", "value": value}}
        else:
            state[block_id] = {
                "value": {"type": "static_select", "selected_option": {"value": value}}
            }
    payload = {
        "type": "view_submission",
        "team": {"id": fake.team_id},
        "user": {"id": fake.alice},
        "api_app_id": "A0FAKE",
        "trigger_id": fake.trigger_id(),
        "view": {**view, "state": {"values": state}},
    }
    body = ("payload=" + __import__("urllib.parse").parse.quote(json.dumps(payload))).encode()
    return fake.send_raw(
        body, {"Content-Type": "application/x-www-form-urlencoded", **fake.sign(body)}
    )


def test_overlong_title_and_unknown_choices_are_refused(bot: Harness) -> None:
    delivery = _forged_submission(
        bot,
        {
            "title": "x" * 5000,
            "severity": "sev9",
            "category": "plumbing",
            "impact": "huge",
            "urgency": "high",
        },
    )
    assert delivery.status == 200
    errors = (delivery.json or {})["errors"]
    assert set(errors) == {"title", "severity", "category", "impact"}
    assert "150" in errors["title"] and "5000" in errors["title"]
    assert all(len(message) <= 150 for message in errors.values())
    assert bot.latest_incident(bot.fake.alice) is None


def test_forged_and_stale_signatures_are_rejected(bot: Harness) -> None:
    fake = bot.fake
    body = b"command=%2Fincident&text=help&user_id=U1&channel_id=C1&team_id=T1"
    forged = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Signature": "v0=" + "0" * 64,
        "X-Slack-Request-Timestamp": str(int(__import__("time").time())),
    }
    assert fake.send_raw(body, forged).status == 401
    stale = {
        "Content-Type": "application/x-www-form-urlencoded",
        **fake.sign(body, timestamp=int(__import__("time").time()) - 3600),
    }
    assert fake.send_raw(body, stale).status == 401
    assert fake.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded"}).status == 401
    # Still serving.
    assert bot.command(fake.alice, fake.incidents, "help").status == 200


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot-json",
        b"payload=%5B%5D",
        b"\xff\xfe\x00garbage",
        b'{"type": "event_callback"}',
        b"",
    ],
)
def test_malformed_payloads_get_4xx_not_5xx(bot: Harness, body: bytes) -> None:
    fake = bot.fake
    delivery = fake.send_raw(
        body, {"Content-Type": "application/x-www-form-urlencoded", **fake.sign(body)}
    )
    assert 200 <= delivery.status < 500
    assert bot.command(fake.alice, fake.incidents, "help").status == 200


def test_help_and_unknown_subcommands(bot: Harness) -> None:
    fake = bot.fake
    bot.command(fake.alice, fake.incidents, "help")
    reply = wait_for(lambda: fake.responses[-1].body if fake.responses else None)
    assert "/incident declare" in reply["text"]
    assert reply.get("response_type") == "ephemeral"
    bot.command(fake.alice, fake.incidents, "frobnicate <!channel>")
    reply = wait_for(lambda: fake.responses[-1].body if len(fake.responses) > 1 else None)
    assert "I don't know" in reply["text"] and "/incident help" in reply["text"]
    assert "<!channel>" not in reply["text"]


def test_expired_trigger_gets_a_clear_message(bot: Harness) -> None:
    fake = bot.fake
    fake.fail("views.open", error="expired_trigger_id")
    bot.command(fake.alice, fake.incidents)
    reply = wait_for(lambda: fake.responses[-1].body if fake.responses else None)
    assert "took too long" in reply["text"]


# -- Slack failing part-way -------------------------------------------------------------


def _sweep_until_done(bot: Harness, clock: ManualClock, reference: str) -> Incident:
    for _ in range(10):
        clock.advance(timedelta(minutes=16))
        sweep(bot.ctx)
        row = bot.incident(reference)
        assert row is not None
        if row.provisioned_at is not None:
            return row
    raise AssertionError("set-up never completed")


def _assert_made_once(fake: FakeSlack, incident: Incident) -> None:
    created = [c for c in fake.calls_to("conversations.create") if c.response.get("ok")]
    assert len(created) == 1
    assert len(_posts(fake, incident.channel_id, "incident_summary")) == 1
    assert len(_posts(fake, fake.incidents, "incident_announcement")) == 1
    confirmations = [
        m
        for m in _posts(fake, fake.dm_channel(incident.reporter_id))
        if (m.metadata or {}).get("event_type") == "incident_confirmation"
    ]
    assert len(confirmations) == 1


def test_rate_limited_pin_is_retried_later(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    fake.rate_limit("pins.add", retry_after=1, times=3)  # more than the client's own retries
    incident = bot.declare(fake.alice, wait=False, title="Rate limited")
    notice = wait_for(
        lambda: [
            m
            for m in _posts(fake, fake.dm_channel(fake.alice))
            if "Retry now" in json.dumps(m.blocks)
        ]
    )
    assert "was not pinned" in notice[0].text
    assert "slow down" in notice[0].text
    row = bot.incident(incident.reference)
    assert row is not None and row.summary_ts is not None and not row.summary_pinned
    with bot.db.session() as session:
        task = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == row.id, ScheduledTask.kind == "provision"
            )
        ).one()
    assert task.state == TaskState.PENDING
    assert task.due_at >= clock.now() + timedelta(seconds=1)
    done = _sweep_until_done(bot, clock, incident.reference)
    assert done.summary_ts in fake.channels[done.channel_id].pins
    _assert_made_once(fake, done)
    final = _posts(fake, fake.dm_channel(fake.alice))[-1]
    assert "fully set up now" in final.text


def test_timeouts_after_slack_acted_create_nothing_twice(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    harness = start_bot(fake_slack, database_url, clock=clock)
    harness.runtime.ctx.slack.creating_client.timeout = 1
    harness.runtime.ctx.slack.client.timeout = 1
    fake = fake_slack
    try:
        fake.delay("conversations.create", 1.6, times=1)
        fake.delay("chat.postMessage", 1.6, times=1)
        incident = harness.declare(fake.alice, wait=False, title="Slow Slack")
        wait_for(lambda: fake.channel_by_name(f"{incident.reference.lower()}-slow-slack"))
        done = _sweep_until_done(harness, clock, incident.reference)
        assert done.channel_name == f"{incident.reference.lower()}-slow-slack"
        _assert_made_once(fake, done)
    finally:
        harness.runtime.stop()


def test_server_errors_are_retried_and_reporter_told(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    fake.server_error("conversations.create", status=503, times=1)
    fake.server_error("chat.postMessage", status=500, times=1)
    incident = bot.declare(fake.alice, wait=False, title="Flaky")
    done = _sweep_until_done(bot, clock, incident.reference)
    _assert_made_once(fake, done)


def test_name_taken_by_someone_else_gets_a_suffix(bot: Harness) -> None:
    fake = bot.fake
    with bot.db.session() as session:
        from bot.services.references import next_reference

        upcoming = next_reference(session=session, now=bot.ctx.clock.now())
        session.rollback()
    squatter = fake.add_channel(f"{upcoming.lower()}-db-down", members=[fake.bob])
    incident = bot.declare(fake.alice, title="DB down")
    assert incident.channel_id != squatter
    assert incident.channel_name == f"{upcoming.lower()}-db-down-2"


def test_retry_button(bot: Harness) -> None:
    fake = bot.fake
    fake.fail("conversations.setTopic", error="internal_error", times=1)
    incident = bot.declare(fake.alice, wait=False, title="Topic fails")
    (notice,) = wait_for(
        lambda: [
            m
            for m in _posts(fake, fake.dm_channel(fake.alice))
            if "Retry now" in json.dumps(m.blocks)
        ]
    )
    delivery = fake.send_block_action(
        fake.alice,
        "incident_retry_setup",
        channel_id=fake.dm_channel(fake.alice),
        message_ts=notice.ts,
        via=bot.via,
    )
    assert delivery.status == 200
    done = wait_for(lambda: bot.incident(incident.reference, done=True))
    assert incident.reference in fake.channels[done.channel_id].topic
    _assert_made_once(fake, done)


def test_incident_recorded_before_a_crash_is_set_up_on_start(
    fake_slack: FakeSlack, database_url: str
) -> None:
    from bot.clock import SystemClock
    from bot.db import Database
    from bot.migrate import upgrade
    from bot.policy import default_policy
    from bot.services.declaration import DeclareInput, declare

    db = Database.from_url(database_url)
    upgrade(db)
    with db.session() as session:
        recorded = declare(
            session=session,
            data=DeclareInput(
                title="Before the crash",
                severity="sev2",
                category="software",
                impact="high",
                urgency="high",
            ),
            reporter_id=fake_slack.alice,
            policy=default_policy(),
            now=SystemClock().now(),
        )
    db.dispose()
    harness = start_bot(fake_slack, database_url, sweep=True)
    try:
        done = wait_for(lambda: harness.incident(recorded.reference, done=True))
        _assert_made_once(fake_slack, done)
    finally:
        harness.runtime.stop()


# -- Socket Mode ------------------------------------------------------------------------


def test_declare_over_socket_mode(fake_slack: FakeSlack, database_url: str) -> None:
    harness = start_bot(fake_slack, database_url, via="socket")
    try:
        incident = harness.declare(fake_slack.alice, title="Over the socket")
        assert fake_slack.alice in fake_slack.channels[incident.channel_id].members
        _assert_made_once(fake_slack, incident)
        # Inline modal errors travel back in the socket acknowledgement.
        view = harness.open_declare(fake_slack.alice, fake_slack.incidents)
        delivery = harness.submit(fake_slack.alice, view, _valid(title="   "))
        assert (delivery.json or {}).get("response_action") == "errors"
        assert "title" in (delivery.json or {})["errors"]
    finally:
        harness.runtime.stop()


def test_healthz(bot: Harness) -> None:
    import urllib.request

    with urllib.request.urlopen(
        f"http://127.0.0.1:{bot.runtime.port}/healthz", timeout=5
    ) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"ok": True, "database": "ok"}


def test_bot_joins_a_public_announcement_channel(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock
) -> None:
    from tests.conftest import make_policy

    fake = fake_slack
    harness = start_bot(
        fake, database_url, clock=clock, policy=make_policy(announcement_channel=fake.general)
    )
    try:
        incident = harness.declare(fake.alice, title="Announce elsewhere")
        assert fake.bot_user_id in fake.channels[fake.general].members
        (announcement,) = _posts(fake, fake.general)
        assert announcement.ts == incident.announcement_ts
    finally:
        harness.runtime.stop()
