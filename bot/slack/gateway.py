"""The Slack gateway: typed wrappers over the Web API, rate-limit aware.

Every method goes through WebClient's named method (`client.chat_postMessage(...)`), which
picks the request encoding Slack reads for it: a JSON body for chat.* and views.*, form
parameters for most others. Slack does not read a JSON body sent to a form-only method
(files.completeUploadExternal answers `invalid_arguments`), so nothing here builds a
request by hand. (A method the SDK had no named method for would go through
`client.api_call` with the encoding the SDK uses for its kind: `params=` for form data,
`json=` only where Slack documents JSON; every method in METHODS has one today.)

Calls that create something (a message, a channel, a file share) go through the 429-only
client (see `bot.slack.webapi`); after a 5xx or a timeout their outcome is unknown, so the
caller looks for what it made (by message metadata or channel name) before it tries again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import SlackResponse

from bot.render import truncate
from bot.slack.catalog import (
    METHODS,
    Channel,
    Identity,
    User,
    channel_from,
    user_from,
)
from bot.slack.lru import ExpiringLru
from bot.slack.uploads import FileUploads
from bot.slack.webapi import DEFAULT_TIMEOUT, SlackCallFailed, api_failure, make_clients

# The gateway and its data, with the plumbing that flows and the app import from here.
__all__ = [
    "DEFAULT_TIMEOUT",
    "METHODS",
    "Channel",
    "Identity",
    "SlackCallFailed",
    "SlackGateway",
    "User",
    "make_clients",
]

# The `text` of a message (its notification text; the blocks carry the content) is cut,
# with a marker, to 4,000 characters, which each method the bot sends it through takes:
# chat.update refuses more with msg_too_long (its reference: "cannot exceed 4,000
# characters"); chat.postMessage takes 40,000 (and truncates beyond) but shows about
# 4,000; chat.postEphemeral documents msg_too_long without a figure.
NOTIFICATION_TEXT_MAX = 4000
# users.info answers are kept per process: names and timezones change rarely, and review
# drafts and dates ask for the same few people again and again. An unknown ID is kept
# briefly, so a person who was just invited is found soon after.
USER_CACHE_SIZE = 5000
USER_TTL = timedelta(minutes=10)
UNKNOWN_USER_TTL = timedelta(minutes=1)


class SlackGateway(FileUploads):
    """The only object that calls the Slack Web API."""

    def __init__(
        self,
        client: WebClient,
        creating_client: WebClient | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.creating_client = creating_client or client
        # Told of every call's outcome (the method, and Slack's error code or None).
        self.observe: Callable[[str, str | None], None] | None = None
        self._identity: Identity | None = None
        self._identity_lock = threading.Lock()
        self._users: ExpiringLru[str, User | None] = ExpiringLru(
            USER_CACHE_SIZE, monotonic=monotonic
        )

    # -- plumbing ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        call: Callable[[WebClient], SlackResponse],
        *,
        creates: bool = False,
    ) -> dict[str, Any]:
        """Run `call` (the named method for `method`) on the right client; the response data.

        The named method drops None arguments and encodes the rest as Slack reads them.
        """
        assert method in METHODS, f"{method} is not in METHODS"
        client = self.creating_client if creates else self.client
        try:
            response = call(client)
        except SlackApiError as exc:
            failure = api_failure(method, exc)
            self._observed(method, failure.error)
            raise failure from None
        except TimeoutError as exc:
            self._observed(method, "timeout")
            raise SlackCallFailed(method, "timeout") from exc
        except (URLError, ConnectionError, SlackRequestError) as exc:
            error = "timeout" if isinstance(getattr(exc, "reason", None), TimeoutError) else None
            self._observed(method, error or "connection_error")
            raise SlackCallFailed(method, error or "connection_error") from exc
        self._observed(method, None)
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _observed(self, method: str, error: str | None) -> None:
        if self.observe is not None:
            self.observe(method, error)

    def _pages(
        self, method: str, fetch: Callable[[WebClient, str | None], SlackResponse]
    ) -> Iterator[dict[str, Any]]:
        """Each page of a cursor-paginated read, first to last; `fetch(client, cursor)`."""
        cursor: str | None = None
        while True:

            def page(client: WebClient, after: str | None = cursor) -> SlackResponse:
                return fetch(client, after)

            data = self._call(method, page)
            yield data
            cursor = _next_cursor(data)
            if not cursor:
                return

    # -- identity ------------------------------------------------------------------------

    @property
    def known_identity(self) -> Identity | None:
        """The bot's identity if it is known already (never calls Slack)."""
        return self._identity

    def identity(self) -> Identity:
        """The bot's own user, bot and team IDs (asked once, then cached)."""
        with self._identity_lock:
            if self._identity is None:
                data = self._call("auth.test", lambda c: c.auth_test())
                self._identity = Identity(
                    user_id=data["user_id"], bot_id=data.get("bot_id", ""), team_id=data["team_id"]
                )
            return self._identity

    # -- conversations -------------------------------------------------------------------

    def create_channel(self, name: str, *, is_private: bool) -> Channel:
        """Create a channel; raises SlackCallFailed('name_taken') when the name is used."""
        data = self._call(
            "conversations.create",
            lambda c: c.conversations_create(name=name, is_private=is_private),
            creates=True,
        )
        return channel_from(data["channel"])

    def find_channel(self, name: str, *, is_private: bool) -> Channel | None:
        """Find a channel the bot can see by exact name (paginated conversations.list)."""
        types = "private_channel" if is_private else "public_channel"
        pages = self._pages(
            "conversations.list",
            lambda c, cursor: c.conversations_list(
                types=types, exclude_archived=False, limit=1000, cursor=cursor
            ),
        )
        for data in pages:
            for item in data.get("channels", []):
                if item.get("name") == name:
                    return channel_from(item)
        return None

    def invite(self, channel: str, users: list[str]) -> None:
        """Invite users; inviting someone already there is not a failure."""
        try:
            self._call(
                "conversations.invite",
                lambda c: c.conversations_invite(channel=channel, users=users),
            )
        except SlackCallFailed as exc:
            if exc.error not in ("already_in_channel", "cant_invite_self"):
                raise

    def join(self, channel: str) -> None:
        """Join a public channel."""
        self._call("conversations.join", lambda c: c.conversations_join(channel=channel))

    def set_topic(self, channel: str, topic: str) -> None:
        """Set a channel's topic."""
        self._call(
            "conversations.setTopic",
            lambda c: c.conversations_setTopic(channel=channel, topic=topic),
        )

    def open_dm(self, user: str) -> str:
        """The ID of the bot's direct-message channel with a user."""
        data = self._call("conversations.open", lambda c: c.conversations_open(users=user))
        return str(data["channel"]["id"])

    def find_message(
        self,
        channel: str,
        *,
        event_type: str,
        match: dict[str, Any],
        oldest: str | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        """The ts of the bot's newest message in `channel` (in the thread of `thread_ts`,
        when given: a channel's history does not hold replies) whose metadata matches."""

        def page(c: WebClient, cursor: str | None) -> SlackResponse:
            if thread_ts is not None:
                return c.conversations_replies(
                    channel=channel, ts=thread_ts, oldest=oldest, limit=200, cursor=cursor,
                    include_all_metadata=True,
                )  # fmt: skip
            return c.conversations_history(
                channel=channel, oldest=oldest, limit=200, cursor=cursor, include_all_metadata=True
            )

        method = "conversations.replies" if thread_ts is not None else "conversations.history"
        pages = self._pages(method, page)
        for data in itertools.islice(pages, 10):
            for message in data.get("messages", []):
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event_type and all(
                    payload.get(key) == value for key, value in match.items()
                ):
                    return str(message["ts"])
        return None

    def history_page(
        self, channel: str, *, oldest: str, latest: str, cursor: str | None, limit: int = 200
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a channel's messages between two ts (inclusive), newest first."""
        data = self._call(
            "conversations.history",
            lambda c: c.conversations_history(
                channel=channel,
                oldest=oldest,
                latest=latest,
                inclusive=True,
                limit=limit,
                cursor=cursor,
            ),
        )
        return list(data.get("messages") or []), _next_cursor(data)

    def replies_page(
        self, channel: str, ts: str, *, cursor: str | None, limit: int = 200
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a thread (the parent first)."""
        data = self._call(
            "conversations.replies",
            lambda c: c.conversations_replies(channel=channel, ts=ts, limit=limit, cursor=cursor),
        )
        return list(data.get("messages") or []), _next_cursor(data)

    # -- messages ------------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
    ) -> tuple[str, str]:
        """Post a message; returns (channel ID, ts). Never expands @channel-style names."""
        data = self._call(
            "chat.postMessage",
            lambda c: c.chat_postMessage(
                channel=channel,
                text=truncate(text, NOTIFICATION_TEXT_MAX),
                blocks=blocks,
                metadata=metadata,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
            ),
            creates=True,
        )
        return str(data["channel"]), str(data["ts"])

    def update_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Edit a message the bot posted."""
        self._call(
            "chat.update",
            lambda c: c.chat_update(
                channel=channel,
                ts=ts,
                text=truncate(text, NOTIFICATION_TEXT_MAX),
                blocks=blocks,
                metadata=metadata,
                link_names=False,
            ),
        )

    def post_ephemeral(
        self, channel: str, user: str, *, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Show a message to one person in a channel."""
        self._call(
            "chat.postEphemeral",
            lambda c: c.chat_postEphemeral(
                channel=channel,
                user=user,
                text=truncate(text, NOTIFICATION_TEXT_MAX),
                blocks=blocks,
            ),
        )

    def pin(self, channel: str, ts: str) -> None:
        """Pin a message; pinning it again is not a failure."""
        try:
            self._call("pins.add", lambda c: c.pins_add(channel=channel, timestamp=ts))
        except SlackCallFailed as exc:
            if exc.error != "already_pinned":
                raise

    def permalink(self, channel: str, ts: str) -> str:
        """A link to a message."""
        data = self._call(
            "chat.getPermalink", lambda c: c.chat_getPermalink(channel=channel, message_ts=ts)
        )
        return str(data["permalink"])

    # -- people --------------------------------------------------------------------------

    def user(self, user_id: str) -> User | None:
        """A person by ID, or None when Slack knows no such user (cached, see USER_TTL)."""
        cached = self._users.get(user_id)
        if cached is not None:
            return cached.value
        try:
            data = self._call("users.info", lambda c: c.users_info(user=user_id))
        except SlackCallFailed as exc:
            if exc.error in ("user_not_found", "user_not_visible"):
                self._users.put(user_id, None, UNKNOWN_USER_TTL)
                return None
            raise
        found = user_from(data.get("user") or {}, user_id)
        self._users.put(user_id, found, USER_TTL)
        return found

    def usergroup_members(self, group_id: str) -> list[str]:
        """The user IDs in a user group (S...); SlackCallFailed('no_such_subteam') if none."""
        data = self._call(
            "usergroups.users.list", lambda c: c.usergroups_users_list(usergroup=group_id)
        )
        return [str(user) for user in data.get("users") or []]

    def private_channels_of(self, user_id: str) -> set[str]:
        """The private channels (that the bot is in) a person is a member of."""
        pages = self._pages(
            "users.conversations",
            lambda c, cursor: c.users_conversations(
                user=user_id,
                types="private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            ),
        )
        return {str(item["id"]) for data in pages for item in data.get("channels", [])}

    # -- views ---------------------------------------------------------------------------

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal; returns its view ID."""
        data = self._call("views.open", lambda c: c.views_open(trigger_id=trigger_id, view=view))
        return str(data["view"]["id"])


def _next_cursor(data: dict[str, Any]) -> str | None:
    """The cursor of the page after this one, None on the last page."""
    cursor = (data.get("response_metadata") or {}).get("next_cursor")
    return str(cursor) if cursor else None
