"""Events API event shapes, and the subscription (manifest `bot_events` entry) each needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .serialize import message_dict
from .state import Channel, Message, Workspace

JSONDict = dict[str, Any]

# Message subtypes that are Slack's own notices rather than something a person typed.
SYSTEM_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "pinned_item",
        "channel_archive",
    }
)


@dataclass(frozen=True)
class Pending:
    """An event Slack would send: the subscription it needs and the conversation it is in."""

    subscription: str
    channel: str
    event: JSONDict


def channel_type(channel: Channel) -> str:
    """The `channel_type` of a message event: "channel", "group" (private) or "im"."""
    if channel.is_im:
        return "im"
    return "group" if channel.is_private else "channel"


def message_subscription(channel: Channel) -> str:
    """The `message.*` subscription that brings a conversation's message events."""
    return {"im": "message.im", "group": "message.groups"}.get(
        channel_type(channel), "message.channels"
    )


def _with_channel(channel: Channel, data: JSONDict, event_ts: str) -> JSONDict:
    data.update(channel=channel.id, event_ts=event_ts, channel_type=channel_type(channel))
    return data


def message_event(
    ws: Workspace, channel: Channel, message: Message, *, base_url: str = ""
) -> Pending:
    """The `message` event (of any subtype) for a message that was just posted."""
    data = message_dict(ws, channel, message, metadata=False, base_url=base_url)
    if message.subtype == "thread_broadcast":
        parent = channel.message(message.thread_ts or "")
        data.pop("parent_user_id", None)
        if parent is not None:
            data["root"] = message_dict(ws, channel, parent, metadata=False, base_url=base_url)
    return Pending(
        message_subscription(channel), channel.id, _with_channel(channel, data, message.ts)
    )


def mention_event(
    ws: Workspace, channel: Channel, message: Message, *, base_url: str = ""
) -> Pending | None:
    """The `app_mention` event for a message that mentions the bot, if it does."""
    if channel.is_im or f"<@{ws.bot_user_id}" not in message.text:
        return None
    data = message_dict(ws, channel, message, metadata=False, base_url=base_url)
    data.pop("subtype", None)
    data.pop("root", None)
    data["type"] = "app_mention"
    data.update(channel=channel.id, event_ts=message.ts)
    return Pending("app_mention", channel.id, data)


def posted_events(
    ws: Workspace, channel: Channel, message: Message, *, base_url: str = ""
) -> list[Pending]:
    """The events a new message produces: `message`, plus `app_mention` when it names the bot."""
    events = [message_event(ws, channel, message, base_url=base_url)]
    if message.user is not None and message.user != ws.bot_user_id and not message.bot_id:
        mention = mention_event(ws, channel, message, base_url=base_url)
        if mention is not None:
            events.append(mention)
    return events


def changed_event(channel: Channel, new: JSONDict, previous: JSONDict, event_ts: str) -> Pending:
    """A `message_changed` event: the message as it is now, and as it was."""
    data: JSONDict = {
        "type": "message",
        "subtype": "message_changed",
        "message": new,
        "previous_message": previous,
        "hidden": True,
        "ts": event_ts,
    }
    return Pending(
        message_subscription(channel), channel.id, _with_channel(channel, data, event_ts)
    )


def deleted_event(channel: Channel, previous: JSONDict, event_ts: str) -> Pending:
    """A `message_deleted` event for the message `previous` describes."""
    data: JSONDict = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "previous_message": previous,
        "deleted_ts": previous["ts"],
        "ts": event_ts,
    }
    return Pending(
        message_subscription(channel), channel.id, _with_channel(channel, data, event_ts)
    )


def reaction_event(
    kind: str, channel: Channel, message: Message, user: str, name: str, event_ts: str
) -> Pending:
    """A `reaction_added` / `reaction_removed` event for a reaction on a message."""
    data: JSONDict = {
        "type": kind,
        "user": user,
        "reaction": name,
        "item": {"type": "message", "channel": channel.id, "ts": message.ts},
    }
    if message.user is not None:
        data["item_user"] = message.user
    data["event_ts"] = event_ts
    return Pending(kind, channel.id, data)


def permalink(ws: Workspace, channel: Channel, message: Message) -> str:
    """The message's permalink, as chat.getPermalink gives it."""
    link = (
        f"https://{ws.team_domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    )
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return link


def pin_event(
    kind: str,
    ws: Workspace,
    channel: Channel,
    message: Message,
    *,
    user: str,
    pinned_by: str,
    pinned_at: int,
    event_ts: str,
    base_url: str = "",
) -> Pending:
    """A `pin_added` / `pin_removed` event for a pinned message."""
    pinned = message_dict(ws, channel, message, metadata=False, base_url=base_url)
    pinned["permalink"] = permalink(ws, channel, message)
    data: JSONDict = {
        "type": kind,
        "user": user,
        "channel_id": channel.id,
        "item": {
            "type": "message",
            "created": pinned_at,
            "created_by": pinned_by,
            "channel": channel.id,
            "message": pinned,
        },
    }
    if message.user is not None:
        data["item_user"] = message.user
    data["pin_count"] = len(channel.pins)
    data["pinned_info"] = {"channel": channel.id, "pinned_by": pinned_by, "pinned_ts": pinned_at}
    if kind == "pin_removed":
        data["has_pins"] = bool(channel.pins)
    data["event_ts"] = event_ts
    return Pending(kind, channel.id, data)


def member_event(
    kind: str, ws: Workspace, channel: Channel, user: str, event_ts: str, inviter: str | None
) -> Pending:
    """A `member_joined_channel` / `member_left_channel` event."""
    data: JSONDict = {
        "type": kind,
        "user": user,
        "channel": channel.id,
        # A single letter: the first one of the channel ID, as Slack documents.
        "channel_type": channel.id[0],
        "team": ws.team_id,
    }
    if inviter is not None:
        data["inviter"] = inviter
    data["event_ts"] = event_ts
    return Pending(kind, channel.id, data)
