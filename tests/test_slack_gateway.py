"""The Slack gateway against the fake workspace: request encodings, caching, user groups."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.gateway import (
    METHODS,
    UNKNOWN_USER_TTL,
    USER_TTL,
    SlackCallFailed,
    SlackGateway,
    make_clients,
)
from bot.slack.lru import ExpiringLru
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
    oncall = fake.add_usergroup("oncall", members=[alice])
    assert gateway.usergroup_members(oncall) == [alice]


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


# --- user groups ------------------------------------------------------------------------


def test_usergroup_members(fake: FakeSlack, gateway: SlackGateway) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    oncall = fake.add_usergroup("oncall", members=[alice, bob], name="On-call")
    empty = fake.add_usergroup("nobody")
    assert oncall.startswith("S") and fake.usergroups[oncall].name == "On-call"
    assert gateway.usergroup_members(oncall) == [alice, bob]
    assert gateway.usergroup_members(empty) == []
    with pytest.raises(SlackCallFailed) as info:
        gateway.usergroup_members("S0NOSUCH")
    assert info.value.error == "no_such_subteam"


# --- users.info cache ---------------------------------------------------------------------


class Ticker:
    """A monotonic time source that moves only when a test moves it."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, delta: timedelta) -> None:
        self.seconds += delta.total_seconds()


@pytest.fixture
def ticker() -> Ticker:
    """The gateway's cache clock."""
    return Ticker()


@pytest.fixture
def cached_gateway(fake: FakeSlack, ticker: Ticker) -> SlackGateway:
    """A gateway whose user cache runs on `ticker`."""
    retrying, creating = make_clients(TOKEN, fake.api_url, timeout=5)
    return SlackGateway(retrying, creating, monotonic=ticker)


def test_a_person_is_looked_up_once_until_the_entry_expires(
    fake: FakeSlack, cached_gateway: SlackGateway, ticker: Ticker
) -> None:
    alice = fake.add_user("alice", real_name="Alice A", tz="Europe/London")
    first = cached_gateway.user(alice)
    assert first is not None and (first.name, first.tz) == ("alice", "Europe/London")
    assert cached_gateway.user(alice) == first
    assert len(fake.calls_to("users.info")) == 1

    fake.users[alice].tz = "Asia/Tokyo"
    ticker.advance(USER_TTL - timedelta(seconds=1))
    assert cached_gateway.user(alice) == first
    assert len(fake.calls_to("users.info")) == 1
    ticker.advance(timedelta(seconds=1))
    again = cached_gateway.user(alice)
    assert again is not None and again.tz == "Asia/Tokyo"
    assert len(fake.calls_to("users.info")) == 2


def test_an_unknown_person_is_remembered_briefly_and_failures_not_at_all(
    fake: FakeSlack, cached_gateway: SlackGateway, ticker: Ticker
) -> None:
    assert cached_gateway.user("U0NOBODY") is None
    assert cached_gateway.user("U0NOBODY") is None
    assert len(fake.calls_to("users.info")) == 1
    ticker.advance(UNKNOWN_USER_TTL)
    assert cached_gateway.user("U0NOBODY") is None
    assert len(fake.calls_to("users.info")) == 2

    bob = fake.add_user("bob")
    fake.fail("users.info", "internal_error")
    with pytest.raises(SlackCallFailed) as info:
        cached_gateway.user(bob)
    assert info.value.error == "internal_error"
    found = cached_gateway.user(bob)
    assert found is not None and found.id == bob
    assert len(fake.calls_to("users.info")) == 4


def test_the_cache_keeps_the_most_recently_used_entries() -> None:
    ticker = Ticker()
    cache: ExpiringLru[str, int] = ExpiringLru(2, monotonic=ticker)
    ttl = timedelta(minutes=1)
    cache.put("a", 1, ttl)
    cache.put("b", 2, ttl)
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", 3, ttl)
    assert (cache.get("b"), len(cache)) == (None, 2)
    hit = cache.get("a")
    assert hit is not None and hit.value == 1
    ticker.advance(ttl)
    assert cache.get("a") is None and cache.get("c") is None
    with pytest.raises(ValueError):
        ExpiringLru(0)
