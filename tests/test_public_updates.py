"""Public updates: `/incident statuspage` writes one, the business liaison (or commander)
approves it where the policy asks, and only then does it reach the published tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.models import (
    AuditEntry,
    PublicUpdate,
    StatusComponentImpact,
    StatusIncident,
    StatusIncidentUpdate,
    TimelineEvent,
)
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakeslack import FakeSlack
from tests.status_page_support import get
from tests.support import form_opened, reply_to, run_command

COMPONENTS = [
    {"name": "Checkout", "group": "Shop", "services": ["checkout", "payments"]},
    {"name": "API", "group": "Platform"},
    {"name": "Search"},
]


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


def _state(view: dict[str, Any], block_id: str) -> Any:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    element = block["element"]
    if "initial_options" in element:
        return [o["value"] for o in element["initial_options"]]
    if "initial_option" in element:
        return element["initial_option"]["value"]
    return element.get("initial_value")


def test_an_update_without_approval_is_published_at_once(sbot: Harness) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev3", affected_services="checkout")
    channel = incident.channel_id
    assert channel is not None
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
    incident = sbot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    run_command(sbot, fake.alice, channel, f"role business-liaison {_mention(fake.bob)}")
    _bot_post(fake, channel, "Business Liaison")
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    note = next(b for b in view["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert fake.bob in note and "approves" in note
    _submit(
        sbot,
        fake.alice,
        view,
        public_status="investigating",
        public_title="Checkout is down",
        public_message="Payments fail for most customers.",
        components=["Checkout"],
        component_state="major_outage",
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
    edited = wait_for(
        lambda: next(
            (m for m in fake.messages(channel) if m.ts == request.ts and "Approved" in m.text),
            None,
        )
    )
    assert not any(b.get("type") == "actions" for b in edited.blocks or [])
    assert f"Approved and published by {_mention(fake.bob)}." in edited.text  # a real mention


def test_reject_and_edit(sbot: Harness) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev2")
    channel = incident.channel_id
    assert channel is not None
    # No liaison: the commander decides.
    run_command(sbot, fake.alice, channel, f"role commander {_mention(fake.bob)}")
    _bot_post(fake, channel, "Incident Commander")
    values = {
        "public_status": "investigating",
        "public_title": "Search is slow",
        "public_message": "Searches take long.",
        "components": ["Search"],
        "component_state": "degraded_performance",
    }
    _submit(sbot, fake.alice, form_opened(sbot, fake.alice, channel, "statuspage"), **values)
    _bot_post(fake, channel, "for approval")
    first = _rows(sbot, PublicUpdate)[0]
    fake.send_block_action(fake.bob, "public_update_reject", str(first.id), channel_id=channel)
    _bot_post(fake, channel, "rejected the status page update")
    assert _rows(sbot, PublicUpdate)[0].state == "rejected"
    assert _rows(sbot, StatusIncident) == []

    _submit(sbot, fake.alice, form_opened(sbot, fake.alice, channel, "statuspage"), **values)
    second = wait_for(lambda: [u for u in _rows(sbot, PublicUpdate) if u.state == "pending"])[0]
    wait_for(
        lambda: [
            m
            for m in fake.messages(channel)
            if "for approval" in m.text and any(b["type"] == "actions" for b in m.blocks or [])
        ]
    )
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


def test_bad_input_is_refused_in_the_form(sbot: Harness) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    values = {
        "public_status": "investigating",
        "public_title": "Checkout is down",
        "public_message": "Payments fail.",
        "components": ["Checkout"],
        "component_state": "major_outage",
    }
    # Nobody can approve a Sev1 update yet.
    answer = _submit(sbot, fake.alice, view, **values)
    assert "business liaison or commander" in answer["errors"]["public_title"]
    # The policy changed under an open form: a component it no longer has is refused inline.
    sbot.ctx.policy = comms_policy(fake, components=[{"name": "API"}])
    answer = _submit(sbot, fake.alice, view, **values)
    assert "not a component" in answer["errors"]["components"]
    assert _rows(sbot, PublicUpdate) == []


def test_private_incidents_never_reach_the_status_page(sbot: Harness) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev3", is_private=["private"])
    channel = incident.channel_id
    assert channel is not None
    assert "private" in reply_to(sbot, fake.alice, channel, "statuspage")
    assert fake.opened_views(fake.alice)[-1]["callback_id"] != "incident_public_update"
    assert _rows(sbot, StatusIncident) == []


def test_resolving_offers_the_resolved_update(sbot: Harness) -> None:
    fake = sbot.fake
    incident = sbot.declare(fake.alice, severity="sev3", affected_services="payments")
    channel = incident.channel_id
    assert channel is not None
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    _submit(
        sbot,
        fake.alice,
        view,
        public_status="investigating",
        public_title="Payments fail",
        public_message="Card payments fail.",
        components=["Checkout"],
        component_state="major_outage",
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
    incident = sbot.declare(fake.alice, severity="sev1")
    channel = incident.channel_id
    assert channel is not None
    run_command(sbot, fake.alice, channel, f"role business-liaison {_mention(fake.bob)}")
    _bot_post(fake, channel, "Business Liaison")
    view = form_opened(sbot, fake.alice, channel, "statuspage")
    _submit(
        sbot,
        fake.alice,
        view,
        public_status="investigating",
        public_title="Checkout <is> down",
        public_message="Payments fail.",
        components=["Checkout"],
        component_state="major_outage",
    )
    _bot_post(fake, channel, "for approval")
    text = reply_to(sbot, fake.alice, channel, "comms")
    assert "Waiting for" in text and fake.bob in text
    assert "Checkout &lt;is&gt; down" in text
    assert "Due next" in text
