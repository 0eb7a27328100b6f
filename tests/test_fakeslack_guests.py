"""The fake Slack's guests, external people and archived channels, through the real WebClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakeslack import FakeSlack

BOT_TOKEN = "xoxb-test"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A running fake workspace that must not hit internal errors."""
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """The real WebClient pointed at the fake."""
    return WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=5)


def _error(call: object) -> tuple[str, object]:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    data = caught.value.response.data
    assert isinstance(data, dict)
    return str(data["error"]), data.get("errors")


def test_users_info_tells_guests_and_external_people_apart(
    fake: FakeSlack, client: WebClient
) -> None:
    member = fake.add_user("member")
    guest = fake.add_user("guest", is_restricted=True)
    single = fake.add_user("single", is_ultra_restricted=True)
    outsider = fake.add_user("outsider", team_id="T0OTHER")
    info = {user: client.users_info(user=user)["user"] for user in (member, guest, single)}
    assert (info[member]["is_restricted"], info[member]["is_ultra_restricted"]) == (False, False)
    assert (info[guest]["is_restricted"], info[guest]["is_ultra_restricted"]) == (True, False)
    assert (info[single]["is_restricted"], info[single]["is_ultra_restricted"]) == (True, True)
    assert "is_stranger" not in info[member]
    external = client.users_info(user=outsider)["user"]
    assert external["team_id"] == "T0OTHER" and external["is_stranger"] is True
    assert info[member]["team_id"] == fake.team_id


def test_invite_refuses_guests_and_external_people(fake: FakeSlack, client: WebClient) -> None:
    member = fake.add_user("member")
    guest = fake.add_user("guest", is_restricted=True)
    single = fake.add_user("single", is_ultra_restricted=True)
    fresh_single = fake.add_user("fresh", is_ultra_restricted=True)
    outsider = fake.add_user("outsider", team_id="T0OTHER")
    fake.add_channel("lobby", members=[single])
    room = fake.add_channel("room")

    error, _ = _error(lambda: client.conversations_invite(channel=room, users=guest))
    assert error == "user_is_restricted"
    error, _ = _error(lambda: client.conversations_invite(channel=room, users=single))
    assert error == "ura_max_channels"
    error, _ = _error(lambda: client.conversations_invite(channel=room, users=fresh_single))
    assert error == "user_is_restricted"
    error, _ = _error(lambda: client.conversations_invite(channel=room, users=outsider))
    assert error == "cant_invite"
    error, errors = _error(
        lambda: client.conversations_invite(channel=room, users=f"{guest},{member}")
    )
    assert error == "user_is_restricted"
    assert errors == [{"user": guest, "ok": False, "error": "user_is_restricted"}]
    assert member not in fake.channels[room].members

    forced = client.conversations_invite(channel=room, users=f"{outsider},{member}", force=True)
    assert forced["errors"] == [{"user": outsider, "ok": False, "error": "cant_invite"}]
    assert member in fake.channels[room].members
    assert guest not in fake.channels[room].members


def test_archived_channel_refuses_posts_and_joins(fake: FakeSlack, client: WebClient) -> None:
    archived = fake.add_channel("old-news", is_archived=True)
    outside = fake.add_channel("old-outside", is_archived=True, bot_member=False)
    error, _ = _error(lambda: client.chat_postMessage(channel=archived, text="hello"))
    assert error == "is_archived"
    error, _ = _error(lambda: client.conversations_join(channel=outside))
    assert error == "is_archived"
