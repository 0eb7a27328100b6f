"""Public updates: `/incident statuspage` writes one, the business liaison (or commander)
approves it where the policy asks, and only then does it reach the published tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.models import (
    AuditEntry,
    Incident,
    PublicUpdate,
    StatusComponentImpact,
    StatusIncident,
    StatusIncidentUpdate,
    TimelineEvent,
)
from bot.scheduler import sweep
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.status_page_support import get
from tests.support import form_opened, reply_to, run_command

COMPONENTS = [
    {"name": "Checkout", "group": "Shop", "services": ["checkout", "payments"]},
    {"name": "API", "group": "Platform"},
    {"name": "Search"},
]
# A form's answers: Checkout down (each test changes what it needs).
DOWN = {
    "public_status": "investigating",
    "public_title": "Checkout is down",
    "public_message": "Payments fail.",
    "components": ["Checkout"],
    "component_state": "major_outage",
}
ROLE_POSTS = {"business-liaison": "Business Liaison", "commander": "Incident Commander"}


def comms_policy(fake: FakeSlack, **status_page: Any) -> Any:
    return make_policy(
        announcement_channel=fake.incidents,  # type: ignore[attr-defined]
        status_page={"components": COMPONENTS, **status_page},
    )


@pytest.fixture
def sbot(fake_slack: FakeSlack, database_url: str, clock: ManualClock) -> Iterator[Harness]:
    harness = start_bot(fake_slack, database_url, clock=clock, policy=comms_policy(fake_slack))
    try:
        yield harness
    finally:
        harness.runtime.stop()


def _mention(user: str) -> str:
    return f"<@{user}>"


def _rows(bot: Harness, model: Any) -> list[Any]:
    with bot.db.session() as session:
        return list(session.exec(select(model).order_by(col(model.id))).all())


def _bot_post(fake: FakeSlack, channel: str, needle: str) -> Any:
    return wait_for(
        lambda: next(
            (
                m
                for m in fake.messages(channel, system=False)
                if m.user == fake.bot_user_id and needle in m.text
            ),
            None,
        )
    )


def _refusal(bot: Harness, user: str, action: str, value: str, channel: str) -> str:
    assert bot.ctx.wait_idle()
    before = len(bot.fake.responses)
    delivery = bot.fake.send_block_action(user, action, value, channel_id=channel)
    assert delivery.status == 200
    body = wait_for(lambda: bot.fake.responses[before:] or None)[0].body
    return str(body.get("text", ""))


def _submit(bot: Harness, user: str, view: dict[str, Any], **values: Any) -> Any:
    delivery = bot.submit(user, view, values)
    assert delivery.status == 200, delivery
    return delivery.json or {}


def _element(view: dict[str, Any], block_id: str) -> Any:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"]


def _state(view: dict[str, Any], block_id: str) -> Any:
    element = _element(view, block_id)
    if "initial_options" in element:
        return [o["value"] for o in element["initial_options"]]
    if "initial_option" in element:
        return element["initial_option"]["value"]
    return element.get("initial_value")


def _declared(bot: Harness, severity: str, **fields: Any) -> tuple[Incident, str]:
    """An incident Alice declared, and its channel."""
    incident = bot.declare(bot.fake.alice, severity=severity, **fields)
    assert incident.channel_id is not None
    return incident, incident.channel_id


def _assign(bot: Harness, channel: str, role: str, user: str) -> None:
    """Alice gives `user` a role; returns once the channel is told."""
    run_command(bot, bot.fake.alice, channel, f"role {role} {_mention(user)}")
    _bot_post(bot.fake, channel, ROLE_POSTS[role])


def _write(
    bot: Harness, user: str, channel: str, command: str = "statuspage", **values: Any
) -> None:
    """Open the public update form and submit it with `DOWN` changed by `values`."""
    view = form_opened(bot, user, channel, command)
    answer = _submit(bot, user, view, **{**DOWN, **values})
    assert not answer.get("errors"), answer


def _request(bot: Harness, channel: str) -> Any:
    """The approval request of the pending update, once its message is recorded on it."""
    [pending] = wait_for(
        lambda: [u for u in _rows(bot, PublicUpdate) if u.state == "pending" and u.approval_ts]
    )
    assert pending.approval_channel == channel
    return next(m for m in bot.fake.messages(channel) if m.ts == pending.approval_ts)


def _buttons(message: Any) -> bool:
    return any(b.get("type") == "actions" for b in message.blocks or [])


def _settled(bot: Harness, channel: str, request: Any) -> Any:
    """The approval request once edited in place: its outcome instead of the buttons."""
    return wait_for(
        lambda: next(
            (
                m
                for m in bot.fake.messages(channel)
                if m.ts == request.ts and "update for approval" not in m.text
            ),
            None,
        )
    )


def test_an_update_without_approval_is_published_at_once(sbot: Harness) -> None:
    fake = sbot.fake
    incident, channel = _declared(sbot, "sev3", affected_services="checkout")
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    assert view["callback_id"] == "incident_public_update"
    # Pre-filled: the components the affected services name, and the category's template.
    assert _state(view, "components") == ["Checkout"]
    assert _state(view, "public_title") == "Problems with Checkout"
    assert "Checkout" in _state(view, "public_message")
    assert _state(view, "public_status") == "investigating"

    answer = _submit(
        sbot,
        fake.alice,
        view,
        public_status="investigating",
        public_title="Checkout is slow",
        public_message="Some payments take longer than usual. <b>We are on it</b> @channel",
        components=["Checkout", "API"],
        component_state="degraded_performance",
    )
    assert not answer.get("errors")
    post = _bot_post(fake, channel, "Status page updated")
    assert "&lt;b&gt;" in post.text and "<!channel>" not in post.text
    public = _rows(sbot, StatusIncident)
    assert [(p.title, p.status, p.impact) for p in public] == [
        ("Checkout is slow", "investigating", "minor")
    ]
    updates = _rows(sbot, StatusIncidentUpdate)
    assert updates[0].components == {
        "Checkout": "degraded_performance",
        "API": "degraded_performance",
    }
    impacts = _rows(sbot, StatusComponentImpact)
    assert sorted((i.component, i.state, i.ended_at) for i in impacts) == [
        ("API", "degraded_performance", None),
        ("Checkout", "degraded_performance", None),
    ]
    with sbot.db.session() as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.incident_id == incident.id)).all()
        events = session.exec(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "public_update"
            )
        ).all()
    assert any(a.field == "public_update" and a.actor_id == fake.alice for a in audit)
    assert [e.data["outcome"] for e in events] == ["published"]

    # The next update starts from the last one; components left out are operational again.
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    assert sorted(_state(view, "components")) == ["API", "Checkout"]
    assert _state(view, "component_state") == "degraded_performance"
    _submit(
        sbot,
        fake.alice,
        view,
        public_status="identified",
        public_title="Checkout is slow",
        public_message="We found the cause.",
        components=["Checkout"],
        component_state="partial_outage",
    )
    wait_for(lambda: len(_rows(sbot, StatusIncidentUpdate)) == 2)
    impacts = _rows(sbot, StatusComponentImpact)
    open_now = sorted((i.component, i.state) for i in impacts if i.ended_at is None)
    assert open_now == [("Checkout", "partial_outage")]
    assert _rows(sbot, StatusIncident)[0].impact == "major"


def test_sev1_updates_wait_for_the_business_liaison(sbot: Harness) -> None:
    fake = sbot.fake
    incident, channel = _declared(sbot, "sev1")
    _assign(sbot, channel, "business-liaison", fake.bob)
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    note = next(b for b in view["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert fake.bob in note and "approves" in note
    _submit(
        sbot, fake.alice, view, **{**DOWN, "public_message": "Payments fail for most customers."}
    )
    request = _bot_post(fake, channel, "for approval")
    assert _mention(fake.bob) in request.text
    assert _rows(sbot, StatusIncident) == []
    [draft] = _rows(sbot, PublicUpdate)
    assert draft.state == "pending" and draft.approver_id == fake.bob
    assert "Checkout is down" not in get(sbot.runtime.port, "/status").text

    # The author is not the approver: refused, privately; nothing published.
    text = _refusal(sbot, fake.alice, "public_update_approve", str(draft.id), channel)
    assert "Only" in text and fake.bob in text
    assert _rows(sbot, StatusIncident) == []

    # The approver approves: published once, however often it is clicked (the request is
    # not edited yet, as when the second click comes before Slack shows the edit).
    fake.fail("chat.update", "cant_update_message")
    fake.send_block_action(fake.bob, "public_update_approve", str(draft.id), channel_id=channel)
    wait_for(lambda: _rows(sbot, StatusIncidentUpdate))
    text = _refusal(sbot, fake.bob, "public_update_approve", str(draft.id), channel)
    assert "already on the status page" in text
    assert len(_rows(sbot, StatusIncidentUpdate)) == 1
    assert _rows(sbot, PublicUpdate)[0].decided_by == fake.bob
    page = get(sbot.runtime.port, "/status").text  # on the page at once
    assert "Checkout is down" in page and "Payments fail for most customers." in page
    assert incident.title not in page  # the internal title never is
    # The second click also edits the request again: it says what happened, without buttons.
    edited = _settled(sbot, channel, request)
    assert not _buttons(edited)
    assert f"Approved and published by {_mention(fake.bob)}." in edited.text  # a real mention


def test_reject_and_edit(sbot: Harness) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev2")
    # No liaison: the commander decides.
    _assign(sbot, channel, "commander", fake.bob)
    values = {
        "public_status": "investigating",
        "public_title": "Search is slow",
        "public_message": "Searches take long.",
        "components": ["Search"],
        "component_state": "degraded_performance",
    }
    _write(sbot, fake.alice, channel, **values)
    _bot_post(fake, channel, "for approval")
    first = _rows(sbot, PublicUpdate)[0]
    fake.send_block_action(fake.bob, "public_update_reject", str(first.id), channel_id=channel)
    _bot_post(fake, channel, "rejected the status page update")
    assert _rows(sbot, PublicUpdate)[0].state == "rejected"
    assert _rows(sbot, StatusIncident) == []

    _write(sbot, fake.alice, channel, **values)
    second = wait_for(lambda: [u for u in _rows(sbot, PublicUpdate) if u.state == "pending"])[0]
    request = _request(sbot, channel)
    assert _buttons(request)
    # Edit: the approver's form holds the draft; submitting it is the approval.
    before = len(fake.opened_views(fake.bob))
    fake.send_block_action(fake.bob, "public_update_edit", str(second.id), channel_id=channel)
    view = wait_for(lambda: fake.opened_views(fake.bob)[before:] or None)[-1]
    assert _state(view, "public_title") == "Search is slow"
    _submit(sbot, fake.bob, view, **{**values, "public_title": "Search is slower than usual"})
    public = wait_for(lambda: _rows(sbot, StatusIncident))
    assert public[0].title == "Search is slower than usual"
    states = {u.id: u.state for u in _rows(sbot, PublicUpdate)}
    assert states[second.id] == "superseded"
    assert sorted(states.values()) == ["published", "rejected", "superseded"]
    # The request of the draft the edit replaced says so, and its buttons are gone.
    replaced = _settled(sbot, channel, request)
    assert not _buttons(replaced)
    assert f"Replaced by a newer version from {_mention(fake.bob)}, published" in replaced.text


def test_bad_input_is_refused_in_the_form(sbot: Harness) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev1")
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    # Nobody can approve a Sev1 update yet.
    answer = _submit(sbot, fake.alice, view, **DOWN)
    assert "business liaison or commander" in answer["errors"]["public_title"]
    # The policy changed under an open form: a component it no longer has is refused inline.
    sbot.ctx.policy = comms_policy(fake, components=[{"name": "API"}])
    answer = _submit(sbot, fake.alice, view, **DOWN)
    assert "not a component" in answer["errors"]["components"]
    assert _rows(sbot, PublicUpdate) == []


def test_private_incidents_never_reach_the_status_page(sbot: Harness) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev3", is_private=["private"])
    assert "private" in reply_to(sbot, fake.alice, channel, "statuspage")
    assert fake.opened_views(fake.alice)[-1]["callback_id"] != "incident_public_update"
    assert _rows(sbot, StatusIncident) == []


def test_resolving_offers_the_resolved_update(sbot: Harness) -> None:
    fake = sbot.fake
    incident, channel = _declared(sbot, "sev3", affected_services="payments")
    _write(
        sbot,
        fake.alice,
        channel,
        public_title="Payments fail",
        public_message="Card payments fail.",
    )
    wait_for(lambda: _rows(sbot, StatusIncident))
    resolve = form_opened(sbot, fake.alice, channel, "resolve")
    sbot.submit(
        fake.alice,
        resolve,
        {"resolution": "Rolled back", "root_cause": "Bad deploy", "impact_summary": "Cards"},
    )
    offer = _bot_post(fake, channel, "is on the status page as still open")
    before = len(fake.opened_views(fake.alice))
    fake.send_block_action(
        fake.alice, "public_update_write", f"{incident.id}:resolved", channel_id=channel
    )
    view = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    assert offer.ts
    assert _state(view, "public_status") == "resolved"
    assert "resolved" in _state(view, "public_message")
    assert _state(view, "components") is None  # nothing affected any more
    _submit(
        sbot,
        fake.alice,
        view,
        public_status="resolved",
        public_title="Payments fail",
        public_message=_state(view, "public_message"),
        component_state="major_outage",
    )
    public = wait_for(lambda: [p for p in _rows(sbot, StatusIncident) if p.resolved_at])
    assert public[0].status == "resolved"
    assert all(i.ended_at is not None for i in _rows(sbot, StatusComponentImpact))


def test_comms_lists_what_went_out_and_what_waits(sbot: Harness) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev1")
    _assign(sbot, channel, "business-liaison", fake.bob)
    _write(sbot, fake.alice, channel, public_title="Checkout <is> down")
    _bot_post(fake, channel, "for approval")
    text = reply_to(sbot, fake.alice, channel, "comms")
    assert "Waiting for" in text and fake.bob in text
    assert "Checkout &lt;is&gt; down" in text
    assert "Due next" in text


def test_a_newer_update_settles_the_requests_it_replaces(sbot: Harness) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev2")
    _assign(sbot, channel, "commander", fake.bob)
    _write(sbot, fake.alice, channel)
    first = _request(sbot, channel)
    resolved = {**DOWN, "public_status": "resolved", "public_message": "It works again."}
    # Alice writes the resolved update meanwhile: it waits for Bob instead of the first.
    _write(sbot, fake.alice, channel, "statuspage resolved", **resolved)
    replaced = _settled(sbot, channel, first)
    assert not _buttons(replaced)
    waiting = f"Replaced by a newer version from {_mention(fake.alice)}, waiting for approval"
    assert waiting in replaced.text
    second = _request(sbot, channel)
    assert second.ts != first.ts and _buttons(second)
    # Bob, who approves, writes one himself: published at once, and the request says so.
    _write(sbot, fake.bob, channel, "statuspage resolved", **resolved)
    wait_for(lambda: _rows(sbot, StatusIncident))
    replaced = _settled(sbot, channel, second)
    assert not _buttons(replaced)
    assert f"Replaced by a newer version from {_mention(fake.bob)}, published" in replaced.text
    states = [u.state for u in _rows(sbot, PublicUpdate)]
    assert states == ["superseded", "superseded", "published"]


def test_the_form_holds_the_text_to_what_the_page_shows(sbot: Harness) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev3")
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    # The policy's limits (max_title 120, max_message 2000), not Slack's 3,000.
    assert _element(view, "public_title")["max_length"] == 120
    assert _element(view, "public_message")["max_length"] == 2000
    sbot.ctx.policy = comms_policy(fake, max_message=500, templates={"default": "W" * 600})
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    assert _element(view, "public_message")["max_length"] == 500
    assert _state(view, "public_message") == "W" * 500
    # The limit went down under an open form: the text is refused, not cut on the page.
    sbot.ctx.policy = comms_policy(fake, max_message=100)
    answer = _submit(sbot, fake.alice, view, **{**DOWN, "public_message": "W" * 400})
    assert "at most 100 characters" in answer["errors"]["public_message"]
    assert _rows(sbot, PublicUpdate) == [] and _rows(sbot, StatusIncident) == []


def test_nothing_internal_is_prefilled_as_public_text(sbot: Harness) -> None:
    fake = sbot.fake
    incident, channel = _declared(
        sbot, "sev3", title="Deploy 4711 broke ledger-db-7", affected_services="ledger"
    )
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    # No component is named: a neutral title, never the incident's internal one.
    assert _state(view, "public_title") == "Problems with our services"
    assert _state(view, "components") is None
    assert incident.title not in _state(view, "public_message")
    assert "ledger" not in _state(view, "public_message")


def test_the_approval_request_survives_slack_being_down(sbot: Harness, clock: ManualClock) -> None:
    fake = sbot.fake
    _, channel = _declared(sbot, "sev2")
    _assign(sbot, channel, "commander", fake.bob)
    assert sbot.ctx.wait_idle()  # Bob's note about his role is out
    fake.rate_limit("chat.postMessage", retry_after=60)  # longer than the client waits
    _write(sbot, fake.alice, channel)
    assert sbot.ctx.wait_idle()
    assert not [m for m in fake.messages(channel) if "for approval" in m.text]
    [draft] = _rows(sbot, PublicUpdate)
    assert draft.state == "pending" and draft.approval_ts is None
    # The sweeper posts it once Slack takes posts again, and its message is recorded.
    clock.advance(timedelta(seconds=61))
    sweep(sbot.ctx)
    request = _request(sbot, channel)
    assert _buttons(request) and _mention(fake.bob) in request.text
    fake.send_block_action(fake.bob, "public_update_approve", str(draft.id), channel_id=channel)
    wait_for(lambda: _rows(sbot, StatusIncident))
    assert not _buttons(_settled(sbot, channel, request))
    # Each once: the request (settled now) and the published update.
    _bot_post(fake, channel, "Status page updated")
    shown = [m.text for m in fake.messages(channel) if "Checkout is down" in m.text]
    assert len(shown) == 2 and sum("Status page updated" in text for text in shown) == 1
