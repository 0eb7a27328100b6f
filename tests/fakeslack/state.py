"""The workspace the fake simulates: users, conversations, messages, views and files."""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

JSONDict = dict[str, Any]
# How a Web API request carried its arguments: a JSON body, a form body (urlencoded), a
# multipart body, or the URL's query string alone.
Encoding = Literal["json", "form", "multipart", "query"]

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(number: int) -> str:
    """`number` in upper-case base 36."""
    digits = ""
    while True:
        number, rem = divmod(number, 36)
        digits = _B36[rem] + digits
        if number == 0:
            return digits


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for a Slack timestamp string such as "1700000000.000100"."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6] or 0)


@dataclass
class User:
    """A workspace member (person or bot)."""

    id: str
    name: str
    real_name: str
    is_bot: bool = False
    tz: str = "UTC"
    email: str | None = None
    is_admin: bool = False
    deleted: bool = False
    bot_id: str | None = None
    display_name: str | None = None
    app_id: str | None = None
    # A multi-channel guest; a single-channel guest is `is_ultra_restricted` too.
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    # Another organisation's workspace (a Slack Connect person); None is this workspace.
    team_id: str | None = None


@dataclass
class UserGroup:
    """A user group (a "subteam", mentioned as @handle) and its members."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class Revision:
    """An earlier version of an edited message: its content until `replaced_at`."""

    text: str
    blocks: list[JSONDict] | None
    replaced_at: str


@dataclass
class Reaction:
    """One emoji on a message and who added it, in order."""

    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class OtherBot:
    """Another app's bot (or an integration) that posts `bot_message`s."""

    id: str
    name: str
    app_id: str


@dataclass
class Message:
    """A message stored in a conversation."""

    ts: str
    user: str | None
    text: str
    blocks: list[JSONDict] | None = None
    metadata: JSONDict | None = None
    thread_ts: str | None = None
    edited: bool = False
    bot_id: str | None = None
    subtype: str | None = None
    attachments: list[JSONDict] | None = None
    files: list[str] = field(default_factory=list)
    app_id: str | None = None
    edited_ts: str | None = None
    client_msg_id: str | None = None
    extra: JSONDict = field(default_factory=dict)
    revisions: list[Revision] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        """Whether the message is a reply inside another message's thread."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Channel:
    """A conversation: public or private channel, or a DM with the bot."""

    id: str
    name: str
    is_private: bool
    is_archived: bool
    creator: str
    created: int
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    messages: list[Message] = field(default_factory=list)
    pins: set[str] = field(default_factory=set)
    is_im: bool = False
    im_user: str | None = None
    topic_set_by: str = ""
    topic_set_at: int = 0
    purpose_set_by: str = ""
    purpose_set_at: int = 0
    pin_info: dict[str, tuple[int, str]] = field(default_factory=dict)

    def message(self, ts: str) -> Message | None:
        """The message with timestamp `ts`, if any."""
        for message in self.messages:
            if message.ts == ts:
                return message
        return None

    def insert(self, message: Message) -> None:
        """Store `message`, keeping the list in timestamp order."""
        keys = [ts_key(m.ts) for m in self.messages]
        self.messages.insert(bisect.bisect_right(keys, ts_key(message.ts)), message)

    def replies(self, thread_ts: str) -> list[Message]:
        """Replies in the thread whose parent has timestamp `thread_ts`."""
        return [m for m in self.messages if m.thread_ts == thread_ts and m.ts != thread_ts]


@dataclass
class FileRecord:
    """A file uploaded through files.getUploadURLExternal and the upload URL."""

    id: str
    name: str
    title: str
    length: int
    user: str
    created: int
    upload_token: str
    alt_txt: str | None = None
    snippet_type: str | None = None
    data: bytes | None = None
    completed: bool = False
    shares: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Call:
    """One Web API request received by the fake and the answer it gave."""

    method: str
    args: JSONDict
    response: JSONDict
    status: int
    at: float
    http_method: str = "POST"
    token: str | None = None
    encoding: Encoding = "form"

    @property
    def ok(self) -> bool:
        """Whether Slack would call this a success."""
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The error code of a failed call."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


class Ephemeral(NamedTuple):
    """An ephemeral message shown to one user."""

    channel: str
    user: str
    text: str
    blocks: list[JSONDict] | None


@dataclass
class ResponseUrlPost:
    """A POST the app made to a response_url the fake handed out."""

    url: str
    body: JSONDict
    status: int
    kind: str
    channel: str | None
    user: str
    at: float


@dataclass
class Trigger:
    """A trigger_id: usable once, for three seconds after it was minted."""

    id: str
    user: str | None
    minted_at: float
    used: bool = False


class Workspace:
    """All mutable state of the simulated workspace, guarded by one re-entrant lock."""

    def __init__(
        self,
        *,
        team_id: str,
        team_domain: str,
        team_name: str,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        bot_name: str,
    ) -> None:
        self.lock = threading.RLock()
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, JSONDict] = {}
        self.view_stacks: dict[str, list[str]] = {}
        self.files: dict[str, FileRecord] = {}
        self.triggers: dict[str, Trigger] = {}
        self.ephemerals: list[Ephemeral] = []
        self.ephemeral_ts: list[str] = []
        self.warnings: list[str] = []
        self.other_bots: dict[str, OtherBot] = {}
        self._counter = 0
        self._last_ts_us = 0
        self.users[bot_user_id] = User(
            id=bot_user_id,
            name=bot_name,
            real_name=bot_name,
            is_bot=True,
            bot_id=bot_id,
        )

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking identifier such as "C0F000001"."""
        with self.lock:
            self._counter += 1
            return f"{prefix}0F{_base36(self._counter).rjust(7, '0')}"

    def next_ts(self) -> str:
        """A message timestamp later than every one handed out before."""
        with self.lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            seconds, micros = divmod(self._last_ts_us, 1_000_000)
            return f"{seconds}.{micros:06d}"

    def channel_by_name(self, name: str) -> Channel | None:
        """The named (non-DM) channel, archived ones included."""
        with self.lock:
            for channel in self.channels.values():
                if not channel.is_im and channel.name == name:
                    return channel
            return None

    def other_bot(self, name: str) -> OtherBot:
        """Another app's bot called `name`, registered when first needed."""
        with self.lock:
            bot = self.other_bots.get(name)
            if bot is None:
                bot = OtherBot(id=self.new_id("B"), name=name, app_id=self.new_id("A"))
                self.other_bots[name] = bot
            return bot

    def dm_with(self, user_id: str) -> Channel:
        """The DM between the bot and `user_id`, created when first needed."""
        with self.lock:
            for channel in self.channels.values():
                if channel.is_im and channel.im_user == user_id:
                    return channel
            channel = Channel(
                id=self.new_id("D"),
                name="",
                is_private=True,
                is_archived=False,
                creator=self.bot_user_id,
                created=int(time.time()),
                members={self.bot_user_id, user_id},
                is_im=True,
                im_user=user_id,
            )
            self.channels[channel.id] = channel
            return channel

    def open_views(self, user_id: str) -> list[JSONDict]:
        """The modal stack currently open for `user_id`, bottom first."""
        with self.lock:
            return [self.views[v] for v in self.view_stacks.get(user_id, []) if v in self.views]
