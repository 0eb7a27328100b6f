"""The Slack gateway against the fake workspace: request encodings, caching, user groups."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.gateway import METHODS, SlackGateway, make_clients
from tests.fakeslack import Call, FakeSlack

TOKEN = "xoxb-gateway-test"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "gateway_test",
    "title": {"type": "plain_text", "text": "Test"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}],
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A running fake workspace that must not hit internal errors."""
    with FakeSlack(bot_token=TOKEN) as fake:
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
def gateway(fake: FakeSlack) -> SlackGateway:
    """The gateway with both of its clients pointed at the fake."""
    retrying, creating = make_clients(TOKEN, fake.api_url, timeout=5)
    return SlackGateway(retrying, creating)


def exercise_every_method(fake: FakeSlack, gateway: SlackGateway) -> None:
    """Call each public gateway method once, so every method in METHODS is used."""
    alice = fake.add_user("alice", real_name="Alice A", tz="Europe/London")
    incidents = fake.add_channel("incidents", members=[alice])
    general = fake.add_channel("general", members=[alice], bot_member=False)
    fake.add_channel("secret", is_private=True, members=[alice])

    gateway.identity()
    channel = gateway.create_channel("inc-encodings", is_private=False)
    gateway.invite(channel.id, [alice])
    gateway.set_topic(channel.id, "Checkout is failing")
    gateway.join(general)
    assert gateway.find_channel("inc-encodings", is_private=False) == channel
    dm = gateway.open_dm(alice)
    _, ts = gateway.post_message(
        incidents,
        text="summary",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*summary*"}}],
        metadata={"event_type": "incident_summary", "event_payload": {"ref": "INC-1"}},
    )
    gateway.post_message(dm, text="a reply", thread_ts=None)
    gateway.update_message(incidents, ts, text="summary, edited")
    gateway.post_ephemeral(incidents, alice, text="only for alice")
    gateway.pin(incidents, ts)
    assert gateway.permalink(incidents, ts).startswith("http")
    assert gateway.find_message(incidents, event_type="incident_summary", match={"ref": "INC-1"})
    messages, _ = gateway.history_page(incidents, oldest="0", latest=ts, cursor=None)
    assert messages
    replies, _ = gateway.replies_page(incidents, ts, cursor=None)
    assert replies
    user = gateway.user(alice)
    assert user is not None and user.tz == "Europe/London"
    assert gateway.private_channels_of(alice)
    file_id = gateway.upload_file(
        incidents, filename="draft.md", content=b"# Draft\n", title="Draft", comment="The draft"
    )
    assert fake.files[file_id].completed
    gateway.open_view(fake.trigger_id(alice), MODAL)


def sdk_encoding(mirror: FakeSlack, client: WebClient, call: Call) -> str:
    """How slack_sdk's own named method for `call.method` sends the same arguments.

    The call is replayed through the named method (`chat.postMessage` → `chat_postMessage`)
    against a second fake workspace, which records the encoding that arrived; whether the
    replay succeeds there does not matter.
    """
    named = getattr(client, call.method.replace(".", "_"))
    before = len(mirror.calls)
    with contextlib.suppress(SlackApiError):
        named(**call.args)
    (replayed,) = mirror.calls[before:]
    assert replayed.method == call.method
    return replayed.encoding


def test_the_gateway_encodes_every_method_as_the_sdk_does(
    fake: FakeSlack, gateway: SlackGateway
) -> None:
    exercise_every_method(fake, gateway)
    assert {call.method for call in fake.calls} == set(METHODS)

    with FakeSlack(bot_token=TOKEN) as mirror:
        client = WebClient(token=TOKEN, base_url=mirror.api_url, timeout=5)
        sent = {
            (call.method, call.encoding, sdk_encoding(mirror, client, call)) for call in fake.calls
        }
    # (method, what the gateway sent, what the SDK's named method sends)
    assert sorted(item for item in sent if item[1] != item[2]) == []
    assert all(call.ok for call in fake.calls), [c for c in fake.calls if not c.ok]
