"""Web API method handlers: Slack's rules, applied to the fake workspace."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import actions, blockkit, events
from .events import Pending
from .serialize import channel_dict, file_dict, message_dict, user_dict, view_dict
from .spec import MethodSpec
from .state import (
    Channel,
    Ephemeral,
    FileRecord,
    Message,
    Revision,
    Trigger,
    User,
    Workspace,
    ts_key,
)

JSONDict = dict[str, Any]

TRIGGER_TTL_SECONDS = 3.0
MAX_TOPIC_LENGTH = 250
MAX_VIEW_BYTES = 250_000
MAX_VIEW_STACK = 3
MAX_ATTACHMENTS = 100

# Arguments whose values Slack expects as JSON (objects/arrays, or strings holding JSON).
JSON_ARGS = frozenset({"blocks", "attachments", "metadata", "view", "files"})

# Method-specific errors for a missing required argument, used when the method lists them.
_MISSING_ARG_ERRORS: dict[str, str] = {
    "channel": "channel_not_found",
    "users": "no_user",
    "user": "user_not_found",
    "file": "file_not_found",
    "name": "invalid_name_required",
    "ts": "message_not_found",
    "message_ts": "message_not_found",
    "timestamp": "no_item_specified",
}
_MISSING_ARG_OVERRIDES: dict[tuple[str, str], str] = {
    ("conversations.replies", "ts"): "thread_not_found",
}

_CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
_PUNCTUATION_ONLY_RE = re.compile(r"^[-_]+$")
_TS_RE = re.compile(r"^\d+(\.\d+)?$")
_TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")


class SlackError(Exception):
    """A Web API failure: `{"ok": false, "error": error, **extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class Unsupported(Exception):
    """A request the fake deliberately does not simulate."""


@dataclass
class ApiContext:
    """Everything a handler needs for one call."""

    method: str
    spec: MethodSpec
    args: JSONDict
    ws: Workspace
    clock: Callable[[], float]
    base_url: str
    socket_url: Callable[[], str]
    system_messages: bool = True
    notes: list[str] = field(default_factory=list)
    # Events the call causes in the workspace (delivered when the fake echoes the bot's acts).
    events: list[Pending] = field(default_factory=list)

    def has(self, name: str) -> bool:
        """Whether the argument was given with a non-empty value."""
        return self.args.get(name) not in (None, "")

    def str_arg(self, name: str, default: str | None = None) -> str | None:
        """A string argument (numbers are accepted and converted, like Slack)."""
        value = self.args.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SlackError("invalid_arguments", **_explain(f"{name} must be a string"))
        return str(value)

    def req_str(self, name: str) -> str:
        """A string argument the dispatcher already checked is present."""
        value = self.str_arg(name)
        if value is None:
            raise SlackError("invalid_arguments", **_explain(f"missing required field: {name}"))
        return value

    def bool_arg(self, name: str, default: bool = False) -> bool:
        """A boolean argument given as true/false/1/0."""
        value = self.args.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise SlackError("invalid_arguments", **_explain(f"{name} must be a boolean"))

    def int_arg(self, name: str, default: int) -> int:
        """An integer argument."""
        value = self.args.get(name)
        if value in (None, ""):
            return default
        try:
            if isinstance(value, bool):
                raise ValueError(name)
            return int(str(value))
        except ValueError:
            raise SlackError(
                "invalid_arguments", **_explain(f"{name} must be an integer")
            ) from None


Handler = Callable[[ApiContext], JSONDict]
HANDLERS: dict[str, Handler] = {}


def api(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for Web API method `name`."""

    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


def _explain(*messages: str) -> JSONDict:
    return {"response_metadata": {"messages": [f"[ERROR] {m}" for m in messages]}}


def missing_arg_error(spec: MethodSpec, arg: str) -> str:
    """The error Slack returns when required argument `arg` of `spec` is missing."""
    override = _MISSING_ARG_OVERRIDES.get((spec.name, arg))
    if override is not None:
        return override
    specific = _MISSING_ARG_ERRORS.get(arg)
    if specific is not None and specific in spec.errors:
        return specific
    if "missing_argument" in spec.errors:
        return "missing_argument"
    return "invalid_arguments"


def check_required(ctx: ApiContext) -> None:
    """Fail the call the way Slack does when a required argument is missing."""
    for arg in ctx.spec.required_args:
        if not ctx.has(arg):
            error = missing_arg_error(ctx.spec, arg)
            generic = error in ("invalid_arguments", "missing_argument")
            raise SlackError(
                error, **(_explain(f"missing required field: {arg}") if generic else {})
            )


# --- shared rules ------------------------------------------------------------------------


def _visible(ctx: ApiContext, channel_id: str) -> Channel:
    """The channel, if it exists and the bot can see it (private ones only as a member)."""
    channel = ctx.ws.channels.get(channel_id)
    if channel is None or (channel.is_private and ctx.ws.bot_user_id not in channel.members):
        raise SlackError("channel_not_found")
    return channel


def _target(ctx: ApiContext, value: str) -> Channel:
    """Resolve a channel ID, a user ID (the bot's DM with them) or a channel name."""
    ws = ctx.ws
    if value in ws.channels:
        return _visible(ctx, value)
    user = ws.users.get(value)
    if user is not None and not user.deleted and value != ws.bot_user_id:
        return ws.dm_with(value)
    channel = ws.channel_by_name(value.removeprefix("#"))
    if channel is not None:
        return _visible(ctx, channel.id)
    raise SlackError("channel_not_found")


def _member(ctx: ApiContext, channel: Channel) -> None:
    """Require the bot to be in the channel."""
    if ctx.ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")


def _writable(channel: Channel) -> None:
    """Require the channel not to be archived."""
    if channel.is_archived:
        raise SlackError("is_archived")


def _not_im(channel: Channel) -> None:
    """Require a channel rather than a DM."""
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")


def _blocks(ctx: ApiContext, surface: blockkit.Surface = "message") -> list[JSONDict] | None:
    """The validated `blocks` argument of a message call."""
    if not ctx.has("blocks"):
        return None
    blocks = ctx.args["blocks"]
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    problems = blockkit.validate_blocks(blocks, surface)
    if problems:
        raise SlackError("invalid_blocks", errors=problems, **_explain(*problems))
    if blockkit.blocks_text_length(blocks) > blockkit.MAX_BLOCKS_TEXT:
        # Slack counts the text of all the blocks together (see MAX_BLOCKS_TEXT).
        raise SlackError("msg_blocks_too_long")
    return blockkit.assign_ids(blocks)


def _upload_blocks(ctx: ApiContext) -> list[JSONDict] | None:
    """The validated `blocks` of files.completeUploadExternal."""
    if not ctx.has("blocks"):
        return None
    blocks = ctx.args["blocks"]
    problems = blockkit.validate_blocks(blocks, "message")
    if problems:
        raise SlackError("invalid_blocks", errors=problems, **_explain(*problems))
    return blockkit.assign_ids(blocks)


def _metadata(ctx: ApiContext) -> JSONDict | None:
    """The validated `metadata` argument (an empty object means "remove")."""
    if not ctx.has("metadata"):
        return None
    metadata = ctx.args["metadata"]
    if metadata == {}:
        return {}
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not metadata["event_type"]
        or not isinstance(metadata.get("event_payload"), dict)
        or set(metadata) - {"event_type", "event_payload"}
    ):
        raise SlackError("invalid_metadata_format")
    return metadata


def _attachments(ctx: ApiContext) -> list[JSONDict] | None:
    """The `attachments` argument, shallowly checked."""
    if not ctx.has("attachments"):
        return None
    value = ctx.args["attachments"]
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise SlackError("invalid_arguments", **_explain("attachments must be an array"))
    if len(value) > MAX_ATTACHMENTS:
        raise SlackError("too_many_attachments")
    return value


def _markdown_conflict(ctx: ApiContext) -> None:
    """Reject markdown_text combined with text or blocks."""
    if ctx.has("markdown_text") and (ctx.has("text") or ctx.has("blocks")):
        raise SlackError("markdown_text_conflict")


def _require_content(ctx: ApiContext, *extra: str) -> None:
    """Require text, blocks, attachments or markdown_text (plus `extra` alternatives)."""
    if not any(ctx.has(k) for k in ("text", "blocks", "attachments", "markdown_text", *extra)):
        raise SlackError("no_text")


def _text_not_too_long(text: str, limit: int = blockkit.MAX_MESSAGE_TEXT) -> None:
    """Reject text over `limit` characters (Slack's 40,000 unless the method says less)."""
    if len(text) > limit:
        raise SlackError("msg_too_long")


def _message(ctx: ApiContext, channel: Channel, ts: str) -> Message:
    """The message `ts` in `channel`."""
    message = channel.message(ts)
    if message is None:
        raise SlackError("message_not_found")
    return message


def _pin_timestamp(ctx: ApiContext) -> str:
    """The `timestamp` argument of pins.add/pins.remove."""
    ts = ctx.str_arg("timestamp")
    if ts is None:
        raise SlackError("no_item_specified")
    if not _TS_RE.match(ts):
        raise SlackError("bad_timestamp")
    return ts


def _page_limit(ctx: ApiContext, default: int, maximum: int) -> int:
    """The `limit` argument of methods that report `invalid_limit`."""
    try:
        limit = ctx.int_arg("limit", default)
    except SlackError:
        raise SlackError("invalid_limit") from None
    if limit < 0:
        raise SlackError("invalid_limit")
    return min(limit or default, maximum)


def _encode_cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _offset_cursor(ctx: ApiContext) -> int:
    """The offset held by a list method's `cursor`, 0 when none was given."""
    cursor = ctx.str_arg("cursor")
    if cursor is None:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind != "next":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None


def _ts_cursor(ctx: ApiContext) -> str | None:
    """The message timestamp held by a history method's `cursor`."""
    cursor = ctx.str_arg("cursor")
    if cursor is None:
        return None
    try:
        kind, _, ts = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if kind != "next_ts" or not _TS_RE.match(ts):
        raise SlackError("invalid_cursor")
    return ts


def _ts_bound(ctx: ApiContext, name: str) -> tuple[int, int] | None:
    """The oldest/latest bound of a history call."""
    value = ctx.str_arg(name)
    if value is None:
        return None
    if not _TS_RE.match(value):
        if name == "oldest":
            raise SlackError("invalid_ts_oldest")
        raise SlackError("invalid_ts_latest")
    return ts_key(value)


def _page(items: list[Any], offset: int, limit: int) -> tuple[list[Any], str]:
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return page, _encode_cursor(f"next:{offset + limit}") if more else ""


def _system_message(
    ctx: ApiContext, channel: Channel, subtype: str, text: str, user: str, **extra: Any
) -> None:
    """Post the message Slack itself adds for joins, topic changes, pins and archiving."""
    _, notice = actions.system_message(
        ctx.ws,
        channel,
        subtype,
        text,
        user,
        store=ctx.system_messages,
        base_url=ctx.base_url,
        **extra,
    )
    ctx.events.append(notice)


def _join(ctx: ApiContext, channel: Channel, user_id: str, inviter: str | None = None) -> None:
    channel.members.add(user_id)
    ctx.events.append(
        events.member_event(
            "member_joined_channel", ctx.ws, channel, user_id, ctx.ws.next_ts(), inviter
        )
    )
    extra = {"inviter": inviter} if inviter else {}
    _system_message(
        ctx, channel, "channel_join", f"<@{user_id}> has joined the channel", user_id, **extra
    )


def _bot_message(ctx: ApiContext, text: str, **fields: Any) -> Message:
    ws = ctx.ws
    return Message(
        ts=ws.next_ts(),
        user=ws.bot_user_id,
        text=text,
        bot_id=ws.bot_id,
        app_id=ws.app_id,
        **fields,
    )


def _thread_parent(channel: Channel, thread_ts: str | None) -> str | None:
    """The thread a reply to `thread_ts` lands in (Slack follows a reply to its parent)."""
    if thread_ts is None:
        return None
    parent = channel.message(thread_ts)
    if parent is not None and parent.is_reply:
        return parent.thread_ts
    return thread_ts


# --- auth and socket mode ----------------------------------------------------------------


@api("auth.test")
def auth_test(ctx: ApiContext) -> JSONDict:
    """Identify the bot."""
    ws = ctx.ws
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@api("apps.connections.open")
def apps_connections_open(ctx: ApiContext) -> JSONDict:
    """Hand out a single-use Socket Mode URL."""
    return {"url": ctx.socket_url()}


# --- conversations -----------------------------------------------------------------------


@api("conversations.create")
def conversations_create(ctx: ApiContext) -> JSONDict:
    """Create a channel with the bot as creator and member."""
    name = ctx.req_str("name")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not _CHANNEL_NAME_RE.match(name):
        raise SlackError("invalid_name_specials")
    if _PUNCTUATION_ONLY_RE.match(name):
        raise SlackError("invalid_name_punctuation")
    ws = ctx.ws
    if ws.channel_by_name(name) is not None:
        raise SlackError("name_taken")
    channel = Channel(
        id=ws.new_id("C"),
        name=name,
        is_private=ctx.bool_arg("is_private"),
        is_archived=False,
        creator=ws.bot_user_id,
        created=int(time.time()),
    )
    ws.channels[channel.id] = channel
    _join(ctx, channel, ws.bot_user_id)
    return {"channel": channel_dict(ws, channel)}


@api("conversations.invite")
def conversations_invite(ctx: ApiContext) -> JSONDict:
    """Invite users to a channel the bot is in."""
    ws = ctx.ws
    channel = _visible(ctx, ctx.req_str("channel"))
    _not_im(channel)
    _writable(channel)
    _member(ctx, channel)
    users = [u.strip() for u in ctx.req_str("users").split(",") if u.strip()]
    if not users:
        raise SlackError("no_user")
    failures: list[JSONDict] = []
    valid: list[str] = []
    for user_id in dict.fromkeys(users):
        user = ws.users.get(user_id)
        if user_id == ws.bot_user_id:
            failures.append({"user": user_id, "ok": False, "error": "cant_invite_self"})
        elif user is None or user.deleted:
            failures.append({"user": user_id, "ok": False, "error": "user_not_found"})
        elif user_id in channel.members:
            failures.append({"user": user_id, "ok": False, "error": "already_in_channel"})
        elif (refused := _invite_refusal(ws, user)) is not None:
            failures.append({"user": user_id, "ok": False, "error": refused})
        else:
            valid.append(user_id)
    if failures and not (ctx.bool_arg("force") and valid):
        first = failures[0]["error"]
        if first == "cant_invite_self":
            raise SlackError("cant_invite_self", errors=failures)
        if first == "user_not_found":
            raise SlackError("user_not_found", errors=failures)
        if first == "user_is_restricted":
            raise SlackError("user_is_restricted", errors=failures)
        if first == "ura_max_channels":
            raise SlackError("ura_max_channels", errors=failures)
        if first == "cant_invite":
            raise SlackError("cant_invite", errors=failures)
        raise SlackError("already_in_channel", errors=failures)
    for user_id in valid:
        _join(ctx, channel, user_id, inviter=ws.bot_user_id)
    result: JSONDict = {"channel": channel_dict(ws, channel)}
    if failures:
        result["errors"] = failures
    return result


def _invite_refusal(ws: Workspace, user: User) -> str | None:
    """Why Slack will not let an app add this person to a channel, if it will not.

    Guests are placed in channels by admins: a single-channel guest already in one gives
    `ura_max_channels`, any other guest `user_is_restricted`. A person from another
    organisation cannot join a channel not shared with it (`cant_invite`).
    """
    if user.team_id is not None and user.team_id != ws.team_id:
        return "cant_invite"
    if user.is_ultra_restricted and any(
        user.id in c.members and not c.is_im for c in ws.channels.values()
    ):
        return "ura_max_channels"
    if user.is_restricted:
        return "user_is_restricted"
    return None


def _set_text_attribute(ctx: ApiContext, attribute: str) -> JSONDict:
    channel = _visible(ctx, ctx.req_str("channel"))
    _not_im(channel)
    _writable(channel)
    _member(ctx, channel)
    value = ctx.req_str(attribute)
    if len(value) > MAX_TOPIC_LENGTH:
        raise SlackError("too_long")
    now = int(time.time())
    bot = ctx.ws.bot_user_id
    if attribute == "topic":
        channel.topic, channel.topic_set_by, channel.topic_set_at = value, bot, now
        _system_message(
            ctx, channel, "channel_topic", f"set the channel topic: {value}", bot, topic=value
        )
    else:
        channel.purpose, channel.purpose_set_by, channel.purpose_set_at = value, bot, now
        _system_message(
            ctx,
            channel,
            "channel_purpose",
            f"set the channel description: {value}",
            bot,
            purpose=value,
        )
    return {"channel": channel_dict(ctx.ws, channel)}


@api("conversations.setTopic")
def conversations_set_topic(ctx: ApiContext) -> JSONDict:
    """Set a channel's topic."""
    return _set_text_attribute(ctx, "topic")


@api("conversations.setPurpose")
def conversations_set_purpose(ctx: ApiContext) -> JSONDict:
    """Set a channel's purpose (description)."""
    return _set_text_attribute(ctx, "purpose")


@api("conversations.info")
def conversations_info(ctx: ApiContext) -> JSONDict:
    """Describe one conversation."""
    channel = _visible(ctx, ctx.req_str("channel"))
    data = channel_dict(ctx.ws, channel, num_members=ctx.bool_arg("include_num_members"))
    if ctx.bool_arg("include_locale"):
        data["locale"] = "en-US"
    return {"channel": data}


_CONVERSATION_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})


@api("conversations.list")
def conversations_list(ctx: ApiContext) -> JSONDict:
    """List the conversations the bot can see, paginated."""
    types_arg = ctx.str_arg("types", "public_channel") or "public_channel"
    types = {t.strip() for t in types_arg.split(",") if t.strip()}
    if not types or types - _CONVERSATION_TYPES:
        raise SlackError("invalid_types")
    exclude_archived = ctx.bool_arg("exclude_archived")
    limit = _page_limit(ctx, 100, 1000)
    offset = _offset_cursor(ctx)
    ws = ctx.ws
    found: list[JSONDict] = []
    for channel in ws.channels.values():
        if channel.is_im:
            kind = "im"
        elif channel.is_private:
            if ws.bot_user_id not in channel.members:
                continue
            kind = "private_channel"
        else:
            kind = "public_channel"
        if kind not in types or (exclude_archived and channel.is_archived):
            continue
        found.append(channel_dict(ws, channel, num_members=not channel.is_im))
    page, next_cursor = _page(found, offset, limit)
    return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}


def _in_range(
    ts: str, oldest: tuple[int, int] | None, latest: tuple[int, int] | None, inclusive: bool
) -> bool:
    key = ts_key(ts)
    if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
        return False
    return not (latest is not None and (key > latest or (key == latest and not inclusive)))


@dataclass
class _HistoryArgs:
    """The window, page size, cursor and metadata arguments of a history method."""

    oldest: tuple[int, int] | None
    latest: tuple[int, int] | None
    inclusive: bool
    limit: int
    cursor: str | None
    metadata: bool

    def selects(self, ts: str, *, newest_first: bool) -> bool:
        """Whether a message at `ts` is in the window and not before the cursor."""
        if not _in_range(ts, self.oldest, self.latest, self.inclusive):
            return False
        if self.cursor is None:
            return True
        key, cursor = ts_key(ts), ts_key(self.cursor)
        return key <= cursor if newest_first else key >= cursor


def _history_args(ctx: ApiContext, default_limit: int, max_limit: int) -> _HistoryArgs:
    return _HistoryArgs(
        oldest=_ts_bound(ctx, "oldest"),
        latest=_ts_bound(ctx, "latest"),
        inclusive=ctx.bool_arg("inclusive"),
        limit=min(max(ctx.int_arg("limit", default_limit), 1), max_limit),
        cursor=_ts_cursor(ctx),
        metadata=ctx.bool_arg("include_all_metadata"),
    )


def _history_page(
    ctx: ApiContext,
    channel: Channel,
    args: _HistoryArgs,
    head: list[Message],
    selected: list[Message],
    **extra: Any,
) -> JSONDict:
    """`head`, then up to `limit` of `selected`; a cursor to the rest when there is more."""
    more = len(selected) > args.limit
    result: JSONDict = {
        "messages": [
            message_dict(ctx.ws, channel, m, metadata=args.metadata, base_url=ctx.base_url)
            for m in [*head, *selected[: args.limit]]
        ],
        "has_more": more,
        **extra,
    }
    if more:
        result["response_metadata"] = {
            "next_cursor": _encode_cursor(f"next_ts:{selected[args.limit].ts}")
        }
    return result


@api("conversations.history")
def conversations_history(ctx: ApiContext) -> JSONDict:
    """Top-level messages of a conversation, newest first."""
    channel = _visible(ctx, ctx.req_str("channel"))
    _member(ctx, channel)
    args = _history_args(ctx, 100, 999)
    selected = [
        m
        for m in reversed(channel.messages)
        if (not m.is_reply or m.subtype == "thread_broadcast")
        and args.selects(m.ts, newest_first=True)
    ]
    return _history_page(
        ctx,
        channel,
        args,
        [],
        selected,
        pin_count=len(channel.pins),
        channel_actions_ts=None,
        channel_actions_count=0,
    )


@api("conversations.replies")
def conversations_replies(ctx: ApiContext) -> JSONDict:
    """A thread: its parent first, then replies oldest first."""
    channel = _visible(ctx, ctx.req_str("channel"))
    if ctx.ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    ts = ctx.req_str("ts")
    parent = channel.message(ts)
    if parent is None:
        raise SlackError("thread_not_found")
    args = _history_args(ctx, 1000, 1000)
    if parent.is_reply:
        return _history_page(ctx, channel, args, [parent], [])
    replies = [m for m in channel.replies(ts) if args.selects(m.ts, newest_first=False)]
    return _history_page(ctx, channel, args, [parent], replies)


@api("conversations.join")
def conversations_join(ctx: ApiContext) -> JSONDict:
    """Join a public channel."""
    ws = ctx.ws
    channel = ws.channels.get(ctx.req_str("channel"))
    if channel is None:
        raise SlackError("channel_not_found")
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    _writable(channel)
    if ws.bot_user_id in channel.members:
        return {
            "channel": channel_dict(ws, channel),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    _join(ctx, channel, ws.bot_user_id)
    return {"channel": channel_dict(ws, channel)}


@api("conversations.members")
def conversations_members(ctx: ApiContext) -> JSONDict:
    """Member IDs of a conversation, paginated."""
    channel = _visible(ctx, ctx.req_str("channel"))
    limit = _page_limit(ctx, 100, 1000)
    offset = _offset_cursor(ctx)
    page, next_cursor = _page(sorted(channel.members), offset, limit)
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


@api("conversations.open")
def conversations_open(ctx: ApiContext) -> JSONDict:
    """Open (or find) the bot's DM with one user."""
    ws = ctx.ws
    if ctx.has("channel"):
        channel = ws.channels.get(ctx.req_str("channel"))
        if channel is None or not channel.is_im:
            raise SlackError("channel_not_found")
    else:
        users = [u.strip() for u in (ctx.str_arg("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise Unsupported("conversations.open with several users (group DMs)")
        user = ws.users.get(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user.deleted:
            raise SlackError("user_disabled")  # a deactivated account
        if user.id == ws.bot_user_id:
            raise SlackError("invalid_user_combination")
        existed = any(c.is_im and c.im_user == user.id for c in ws.channels.values())
        if not existed and ctx.bool_arg("prevent_creation"):
            return {"channel": {}, "no_op": True}
        channel = ws.dm_with(user.id)
        if existed:
            result = {"no_op": True, "already_open": True}
            return {"channel": _open_result(ctx, channel), **result}
    return {"channel": _open_result(ctx, channel)}


def _open_result(ctx: ApiContext, channel: Channel) -> JSONDict:
    if ctx.bool_arg("return_im"):
        return channel_dict(ctx.ws, channel)
    return {"id": channel.id}


@api("conversations.archive")
def conversations_archive(ctx: ApiContext) -> JSONDict:
    """Archive a channel the bot is in."""
    channel = _visible(ctx, ctx.req_str("channel"))
    _not_im(channel)
    if channel.is_archived:
        raise SlackError("already_archived")
    _member(ctx, channel)
    bot = ctx.ws.bot_user_id
    _system_message(ctx, channel, "channel_archive", "archived the channel", bot)
    channel.is_archived = True
    return {}


# --- chat --------------------------------------------------------------------------------


@api("chat.postMessage")
def chat_post_message(ctx: ApiContext) -> JSONDict:
    """Post a message as the bot (to a channel, a DM, or a user ID which opens the DM)."""
    channel = _target(ctx, ctx.req_str("channel"))
    _writable(channel)
    _member(ctx, channel)
    _markdown_conflict(ctx)
    _require_content(ctx)
    blocks = _blocks(ctx)
    attachments = _attachments(ctx)
    metadata = _metadata(ctx)
    text = ctx.str_arg("text", "") or ""
    markdown = ctx.str_arg("markdown_text")
    if markdown is not None:
        text, blocks = markdown, [{"type": "markdown", "text": markdown}]
    if len(text) > blockkit.MAX_MESSAGE_TEXT:
        # Slack truncates (rather than rejects) over-long chat.postMessage text.
        ctx.notes.append(f"chat.postMessage text truncated from {len(text)} characters")
        text = text[: blockkit.MAX_MESSAGE_TEXT]
    requested_thread = ctx.str_arg("thread_ts")
    thread_ts = _thread_parent(channel, requested_thread)
    if thread_ts is not None and channel.message(thread_ts) is None:
        ctx.notes.append(f"chat.postMessage thread_ts {thread_ts} is not a message in {channel.id}")
    broadcast = thread_ts is not None and ctx.bool_arg("reply_broadcast")
    message = _bot_message(
        ctx,
        text,
        blocks=blocks,
        attachments=attachments,
        metadata=metadata or None,
        thread_ts=thread_ts,
        subtype="thread_broadcast" if broadcast else None,
    )
    # Unfurl flags only affect rendering, but must still be booleans.
    ctx.bool_arg("unfurl_links")
    ctx.bool_arg("unfurl_media")
    channel.insert(message)
    ctx.events.extend(events.posted_events(ctx.ws, channel, message, base_url=ctx.base_url))
    return {
        "channel": channel.id,
        "ts": message.ts,
        "message": message_dict(ctx.ws, channel, message, metadata=True, base_url=ctx.base_url),
    }


@api("chat.update")
def chat_update(ctx: ApiContext) -> JSONDict:
    """Edit one of the bot's messages."""
    channel = _visible(ctx, ctx.req_str("channel"))
    message = _message(ctx, channel, ctx.req_str("ts"))
    if message.user != ctx.ws.bot_user_id or ctx.ws.bot_user_id not in channel.members:
        raise SlackError("cant_update_message")
    _markdown_conflict(ctx)
    _require_content(ctx, "metadata", "file_ids")
    blocks = _blocks(ctx)
    attachments = _attachments(ctx)
    metadata = _metadata(ctx)
    previous = message_dict(ctx.ws, channel, message, metadata=False, base_url=ctx.base_url)
    edit_ts = ctx.ws.next_ts()
    old_text, old_blocks = message.text, message.blocks
    if ctx.has("text"):
        text = ctx.req_str("text")
        _text_not_too_long(text, blockkit.MAX_UPDATE_TEXT)
        message.text = text
        message.blocks = blocks
    elif blocks is not None:
        message.blocks = blocks
    if ctx.has("markdown_text"):
        markdown = ctx.req_str("markdown_text")
        message.text, message.blocks = markdown, [{"type": "markdown", "text": markdown}]
    if attachments is not None:
        message.attachments = attachments
    if metadata is not None:
        message.metadata = metadata or None
    message.revisions.append(Revision(old_text, old_blocks, edit_ts))
    message.edited = True
    message.edited_ts = edit_ts
    new = message_dict(ctx.ws, channel, message, metadata=False, base_url=ctx.base_url)
    ctx.events.append(events.changed_event(channel, new, previous, edit_ts))
    return {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message_dict(ctx.ws, channel, message, metadata=True, base_url=ctx.base_url),
    }


@api("chat.postEphemeral")
def chat_post_ephemeral(ctx: ApiContext) -> JSONDict:
    """Show a message to one member of a channel."""
    ws = ctx.ws
    channel = _target(ctx, ctx.req_str("channel"))
    _writable(channel)
    _member(ctx, channel)
    user_id = ctx.req_str("user")
    if user_id not in ws.users or user_id not in channel.members:
        raise SlackError("user_not_in_channel")
    _markdown_conflict(ctx)
    _require_content(ctx)
    blocks = _blocks(ctx)
    _attachments(ctx)
    text = ctx.str_arg("text", "") or ctx.str_arg("markdown_text", "") or ""
    _text_not_too_long(text)
    ts = ws.next_ts()
    ws.ephemerals.append(Ephemeral(channel.id, user_id, text, blocks))
    ws.ephemeral_ts.append(ts)
    return {"message_ts": ts}


@api("chat.getPermalink")
def chat_get_permalink(ctx: ApiContext) -> JSONDict:
    """A permanent link to a message."""
    channel = _visible(ctx, ctx.req_str("channel"))
    message = _message(ctx, channel, ctx.req_str("message_ts"))
    base = f"https://{ctx.ws.team_domain}.slack.com/archives/{channel.id}"
    link = f"{base}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


@api("chat.delete")
def chat_delete(ctx: ApiContext) -> JSONDict:
    """Delete one of the bot's messages (a thread parent becomes a tombstone)."""
    channel = _visible(ctx, ctx.req_str("channel"))
    message = _message(ctx, channel, ctx.req_str("ts"))
    if message.user != ctx.ws.bot_user_id:
        raise SlackError("cant_delete_message")
    ctx.events.append(actions.remove(ctx.ws, channel, message, base_url=ctx.base_url))
    return {"channel": channel.id, "ts": message.ts}


# --- pins --------------------------------------------------------------------------------


@api("pins.add")
def pins_add(ctx: ApiContext) -> JSONDict:
    """Pin a message to its channel."""
    channel = _visible(ctx, ctx.req_str("channel"))
    _member(ctx, channel)
    ts = _pin_timestamp(ctx)
    message = _message(ctx, channel, ts)
    if ts in channel.pins:
        raise SlackError("already_pinned")
    _, caused = actions.pin(
        ctx.ws,
        channel,
        ctx.ws.bot_user_id,
        message.ts,
        store=ctx.system_messages,
        base_url=ctx.base_url,
    )
    ctx.events.extend(caused)
    return {}


@api("pins.remove")
def pins_remove(ctx: ApiContext) -> JSONDict:
    """Un-pin a message."""
    channel = _visible(ctx, ctx.req_str("channel"))
    ts = _pin_timestamp(ctx)
    _message(ctx, channel, ts)
    if ts not in channel.pins:
        raise SlackError("not_pinned")
    _, caused = actions.unpin(ctx.ws, channel, ctx.ws.bot_user_id, ts, base_url=ctx.base_url)
    ctx.events.extend(caused)
    return {}


@api("pins.list")
def pins_list(ctx: ApiContext) -> JSONDict:
    """The pinned messages of a channel, most recently pinned first."""
    channel = _visible(ctx, ctx.req_str("channel"))
    items: list[JSONDict] = []
    for ts in channel.pins:
        message = channel.message(ts)
        if message is None:
            continue
        created, created_by = channel.pin_info.get(ts, (0, ""))
        items.append(
            {
                "type": "message",
                "created": created,
                "created_by": created_by,
                "channel": channel.id,
                "message": message_dict(
                    ctx.ws, channel, message, metadata=False, base_url=ctx.base_url
                ),
            }
        )
    items.sort(key=lambda item: (item["created"], item["message"]["ts"]), reverse=True)
    return {"items": items}


# --- views -------------------------------------------------------------------------------


def _view_arg(ctx: ApiContext, kinds: tuple[str, ...]) -> JSONDict:
    """The validated `view` argument (at most 250 kB)."""
    view = ctx.args.get("view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", **_explain("view must be a JSON object"))
    problems = blockkit.validate_view(view)
    if not problems and view.get("type") not in kinds:
        problems = [f"must be one of {', '.join(kinds)} [json-pointer:/view/type]"]
    if problems:
        raise SlackError("invalid_arguments", **_explain(*problems))
    _view_size(view)
    return view


def _view_size(view: JSONDict) -> None:
    """Reject views over 250 kB."""
    if len(json.dumps(view)) > MAX_VIEW_BYTES:
        raise SlackError("view_too_large")


def _consume_trigger(ctx: ApiContext) -> Trigger:
    """Exchange the call's trigger_id (or interactivity_pointer): once, within 3 seconds."""
    trigger_id = ctx.str_arg("trigger_id") or ctx.str_arg("interactivity_pointer")
    if trigger_id is None:
        raise SlackError("invalid_arguments", **_explain("missing required field: trigger_id"))
    trigger = ctx.ws.triggers.get(trigger_id)
    if trigger is None or not _TRIGGER_RE.match(trigger_id):
        raise SlackError("invalid_trigger_id")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    if ctx.clock() - trigger.minted_at > TRIGGER_TTL_SECONDS:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger


def _external_id_free(ctx: ApiContext, view: JSONDict, current: str | None = None) -> None:
    """Require the view's external_id to be unused by other views."""
    external_id = view.get("external_id")
    if not external_id:
        return
    for stored in ctx.ws.views.values():
        if stored.get("external_id") == external_id and stored["id"] != current:
            raise SlackError("duplicate_external_id")


def _new_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def _store_view(
    ctx: ApiContext,
    view: JSONDict,
    user: str | None,
    *,
    view_id: str | None = None,
    previous: str | None = None,
    root: str | None = None,
) -> JSONDict:
    ws = ctx.ws
    view_id = view_id or ws.new_id("V")
    stored: JSONDict = {
        "id": view_id,
        "team_id": ws.team_id,
        "type": view["type"],
        "blocks": blockkit.assign_ids(view.get("blocks", [])),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": _new_hash(),
        "title": view.get("title"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": previous,
        "root_view_id": root or view_id,
        "app_id": ws.app_id,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
        "user": user,
    }
    ws.views[view_id] = stored
    return stored


def open_modal(ctx: ApiContext, view: JSONDict, user: str | None) -> JSONDict:
    """Store `view` as a new modal stack for `user`."""
    stored = _store_view(ctx, view, user)
    if user is not None:
        ctx.ws.view_stacks[user] = [stored["id"]]
    return stored


def push_modal(ctx: ApiContext, view: JSONDict, user: str, below: str) -> JSONDict:
    """Push `view` on top of `user`'s modal stack."""
    root = ctx.ws.views[below]["root_view_id"]
    stored = _store_view(ctx, view, user, previous=below, root=root)
    ctx.ws.view_stacks.setdefault(user, []).append(stored["id"])
    return stored


def replace_view(ctx: ApiContext, stored: JSONDict, view: JSONDict) -> JSONDict:
    """Replace the content of stored view `stored` with `view`."""
    replacement = _store_view(
        ctx,
        view,
        stored.get("user"),
        view_id=stored["id"],
        previous=stored.get("previous_view_id"),
        root=stored.get("root_view_id"),
    )
    return replacement


def _new_modal(ctx: ApiContext) -> tuple[JSONDict, Trigger]:
    """The modal a views.open / views.push call brings, and the trigger it exchanged."""
    view = _view_arg(ctx, ("modal",))
    _external_id_free(ctx, view)
    return view, _consume_trigger(ctx)


@api("views.open")
def views_open(ctx: ApiContext) -> JSONDict:
    """Open a modal for the user who triggered the interaction."""
    view, trigger = _new_modal(ctx)
    return {"view": view_dict(open_modal(ctx, view, trigger.user))}


@api("views.push")
def views_push(ctx: ApiContext) -> JSONDict:
    """Push a modal onto the open stack (at most three deep)."""
    view, trigger = _new_modal(ctx)
    stack = ctx.ws.view_stacks.get(trigger.user or "", [])
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= MAX_VIEW_STACK:
        raise SlackError("push_limit_reached")
    return {"view": view_dict(push_modal(ctx, view, trigger.user or "", stack[-1]))}


@api("views.update")
def views_update(ctx: ApiContext) -> JSONDict:
    """Replace an open view, found by view_id or external_id, optionally checking its hash."""
    view = _view_arg(ctx, ("modal", "home"))
    ws = ctx.ws
    stored: JSONDict | None = None
    if ctx.has("view_id"):
        stored = ws.views.get(ctx.req_str("view_id"))
    elif ctx.has("external_id"):
        external_id = ctx.req_str("external_id")
        stored = next((v for v in ws.views.values() if v["external_id"] == external_id), None)
    else:
        raise SlackError("invalid_arguments", **_explain("view_id or external_id is required"))
    if stored is None:
        raise SlackError("not_found")
    if ctx.has("hash") and ctx.req_str("hash") != stored["hash"]:
        raise SlackError("hash_conflict")
    _external_id_free(ctx, view, current=stored["id"])
    return {"view": view_dict(replace_view(ctx, stored, view))}


@api("views.publish")
def views_publish(ctx: ApiContext) -> JSONDict:
    """Publish a user's App Home tab."""
    view = _view_arg(ctx, ("home",))
    ws = ctx.ws
    user_id = ctx.req_str("user_id")
    current = next(
        (v for v in ws.views.values() if v["type"] == "home" and v.get("user") == user_id), None
    )
    if current is not None and ctx.has("hash") and ctx.req_str("hash") != current["hash"]:
        raise SlackError("hash_conflict")
    _external_id_free(ctx, view, current=current["id"] if current else None)
    stored = _store_view(ctx, view, user_id, view_id=current["id"] if current else None)
    return {"view": view_dict(stored)}


# --- users -------------------------------------------------------------------------------


@api("users.info")
def users_info(ctx: ApiContext) -> JSONDict:
    """Describe one user."""
    user = ctx.ws.users.get(ctx.req_str("user"))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user_dict(ctx.ws, user, locale=ctx.bool_arg("include_locale"))}


@api("users.list")
def users_list(ctx: ApiContext) -> JSONDict:
    """Every user of the workspace, paginated."""
    limit = min(max(ctx.int_arg("limit", 0), 0) or 1000, 1000)
    offset = _offset_cursor(ctx)
    locale = ctx.bool_arg("include_locale")
    members = [user_dict(ctx.ws, u, locale=locale) for u in ctx.ws.users.values()]
    page, next_cursor = _page(members, offset, limit)
    return {
        "members": page,
        "cache_ts": int(time.time()),
        "response_metadata": {"next_cursor": next_cursor},
    }


@api("users.conversations")
def users_conversations(ctx: ApiContext) -> JSONDict:
    """The conversations a user (default: the bot) is in that the bot can see, paginated."""
    ws = ctx.ws
    types_arg = ctx.str_arg("types", "public_channel") or "public_channel"
    types = {t.strip() for t in types_arg.split(",") if t.strip()}
    if not types or types - _CONVERSATION_TYPES:
        raise SlackError("invalid_types")
    user_id = ctx.str_arg("user") or ws.bot_user_id
    if user_id not in ws.users:
        # The reference documents no user error for this method.
        raise SlackError("invalid_arguments", **_explain(f"no user {user_id}"))
    exclude_archived = ctx.bool_arg("exclude_archived")
    limit = _page_limit(ctx, 100, 999)
    offset = _offset_cursor(ctx)
    found: list[JSONDict] = []
    for channel in ws.channels.values():
        if user_id not in channel.members:
            continue
        if channel.is_im:
            kind = "im"
        else:
            kind = "private_channel" if channel.is_private else "public_channel"
        # Beyond public channels, only conversations the bot shares are visible to it.
        if kind != "public_channel" and ws.bot_user_id not in channel.members:
            continue
        if kind not in types or (exclude_archived and channel.is_archived):
            continue
        data = channel_dict(ws, channel)
        data.pop("is_member", None)
        found.append(data)
    page, next_cursor = _page(found, offset, limit)
    return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}


# --- user groups -------------------------------------------------------------------------


@api("usergroups.users.list")
def usergroups_users_list(ctx: ApiContext) -> JSONDict:
    """The members of one user group."""
    ctx.bool_arg("include_disabled")
    group = ctx.ws.usergroups.get(ctx.req_str("usergroup"))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}


# --- files -------------------------------------------------------------------------------


@api("files.getUploadURLExternal")
def files_get_upload_url_external(ctx: ApiContext) -> JSONDict:
    """Reserve a file ID and hand out the URL to POST its bytes to."""
    ws = ctx.ws
    filename = ctx.req_str("filename")
    length = ctx.int_arg("length", 0)
    if length < 1:
        raise SlackError("invalid_arguments", **_explain("length must be a positive integer"))
    record = FileRecord(
        id=ws.new_id("F"),
        name=filename,
        title=filename,
        length=length,
        user=ws.bot_user_id,
        created=int(time.time()),
        upload_token=secrets.token_urlsafe(16),
        alt_txt=ctx.str_arg("alt_txt"),
        snippet_type=ctx.str_arg("snippet_type"),
    )
    ws.files[record.id] = record
    return {"upload_url": f"{ctx.base_url}/upload/v1/{record.upload_token}", "file_id": record.id}


@api("files.completeUploadExternal")
def files_complete_upload_external(ctx: ApiContext) -> JSONDict:
    """Finish uploads and share them (with an optional comment) in a channel."""
    ws = ctx.ws
    entries = ctx.args.get("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", **_explain("files must be a non-empty array"))
    records: list[tuple[FileRecord, JSONDict]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise SlackError("invalid_arguments", **_explain("each file needs an id"))
        record = ws.files.get(entry["id"])
        if record is None or record.data is None:
            raise SlackError("file_not_found")
        records.append((record, entry))
    targets: list[Channel] = []
    channel_ids = [ctx.str_arg("channel_id")] if ctx.has("channel_id") else []
    channel_ids += [c.strip() for c in (ctx.str_arg("channels") or "").split(",") if c.strip()]
    for channel_id in channel_ids:
        if channel_id is None:
            continue
        channel = _target(ctx, channel_id)
        _member(ctx, channel)
        targets.append(channel)
    comment = ctx.str_arg("initial_comment")
    blocks = None if comment is not None else _upload_blocks(ctx)
    for record, entry in records:
        record.completed = True
        if isinstance(entry.get("title"), str) and entry["title"]:
            record.title = entry["title"]
    thread_ts = ctx.str_arg("thread_ts")
    for channel in targets:
        message = _bot_message(
            ctx,
            comment or "",
            blocks=blocks,
            files=[r.id for r, _ in records],
            thread_ts=_thread_parent(channel, thread_ts),
        )
        channel.insert(message)
        for record, _ in records:
            record.shares.setdefault(channel.id, []).append(message.ts)
        ctx.events.extend(events.posted_events(ws, channel, message, base_url=ctx.base_url))
    return {"files": [{"id": r.id, "title": r.title} for r, _ in records]}


@api("files.info")
def files_info(ctx: ApiContext) -> JSONDict:
    """Describe one uploaded file."""
    record = ctx.ws.files.get(ctx.req_str("file"))
    if record is None or not record.completed:
        raise SlackError("file_not_found")
    return {
        "file": file_dict(ctx.ws, record, ctx.base_url),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def dispatch(ctx: ApiContext) -> JSONDict:
    """Run the handler for `ctx.method` after Slack's required-argument checks."""
    handler = HANDLERS.get(ctx.method)
    if handler is None:
        raise Unsupported(f"{ctx.method} is not implemented by the fake")
    check_required(ctx)
    return handler(ctx)
