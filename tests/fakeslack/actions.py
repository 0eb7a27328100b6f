"""What people (and other apps) do in the workspace: the state change and the events it causes.

Every function expects the caller to hold `ws.lock` and to have checked that the acting user
and the conversation exist; it raises AssertionError for something Slack's clients would never
let a person do. It returns the message it created or touched and the events Slack would send
an app subscribed to everything and present everywhere (the caller filters them).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any

from . import blockkit, events
from .delivery import rich_text_blocks
from .events import Pending
from .serialize import message_dict
from .state import Channel, FileRecord, Message, Reaction, Revision, Workspace

JSONDict = dict[str, Any]

_EMOJI_RE = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")
_UNTOUCHABLE_SUBTYPES = events.SYSTEM_SUBTYPES | {"tombstone", "bot_message"}


def _message(channel: Channel, ts: str) -> Message:
    message = channel.message(ts)
    if message is None:
        raise AssertionError(f"no message {ts} in {channel.id}")
    return message


def require_writable(channel: Channel, user_id: str, doing: str) -> None:
    """Require `user_id` to be in the (unarchived) conversation to do something there."""
    if user_id not in channel.members:
        raise AssertionError(f"{user_id} cannot {doing} in {channel.id}: not a member")
    if channel.is_archived:
        raise AssertionError(f"{channel.id} is archived; nobody can {doing} in it")


def _can_see(channel: Channel, user_id: str) -> None:
    if (channel.is_private or channel.is_im) and user_id not in channel.members:
        raise AssertionError(f"{user_id} cannot see {channel.id}")


def _own(channel: Channel, user_id: str, ts: str, doing: str) -> Message:
    message = _message(channel, ts)
    if message.user != user_id or message.subtype in _UNTOUCHABLE_SUBTYPES:
        raise AssertionError(f"{user_id} cannot {doing} message {ts}: only its author can")
    return message


def system_message(
    ws: Workspace,
    channel: Channel,
    subtype: str,
    text: str,
    user: str,
    *,
    store: bool,
    base_url: str = "",
    **extra: Any,
) -> tuple[Message, Pending]:
    """A notice Slack itself posts (join, leave, pin, topic...), stored when `store`."""
    message = Message(ts=ws.next_ts(), user=user, text=text, subtype=subtype, extra=dict(extra))
    if store:
        channel.insert(message)
    return message, events.message_event(ws, channel, message, base_url=base_url)


def post(
    ws: Workspace,
    channel: Channel,
    user_id: str,
    text: str,
    *,
    thread_ts: str | None = None,
    reply_broadcast: bool = False,
    subtype: str | None = None,
    base_url: str = "",
) -> tuple[Message, list[Pending]]:
    """A person's message (optionally a thread reply, broadcast, or a /me message)."""
    if subtype not in (None, "me_message"):
        raise ValueError(f"a person posts no {subtype!r} messages (only me_message)")
    require_writable(channel, user_id, "post")
    parent = _message(channel, thread_ts) if thread_ts is not None else None
    if reply_broadcast and (parent is None or subtype is not None):
        raise ValueError("reply_broadcast needs thread_ts (and no subtype)")
    message = Message(
        ts=ws.next_ts(),
        user=user_id,
        text=text,
        blocks=None if subtype == "me_message" else rich_text_blocks(text),
        thread_ts=(parent.thread_ts or parent.ts) if parent else None,
        client_msg_id=None if subtype == "me_message" else str(uuid.uuid4()),
        subtype="thread_broadcast" if reply_broadcast else subtype,
    )
    channel.insert(message)
    return message, events.posted_events(ws, channel, message, base_url=base_url)


def edit(
    ws: Workspace, channel: Channel, message: Message, text: str, *, base_url: str = ""
) -> Pending:
    """Replace a message's text, keeping the old version in `message.revisions`."""
    previous = message_dict(ws, channel, message, metadata=False, base_url=base_url)
    edit_ts = ws.next_ts()
    message.revisions.append(Revision(message.text, message.blocks, edit_ts))
    message.text = text
    if message.subtype != "me_message":
        message.blocks = rich_text_blocks(text) if text else None
    message.edited, message.edited_ts = True, edit_ts
    new = message_dict(ws, channel, message, metadata=False, base_url=base_url)
    return events.changed_event(channel, new, previous, edit_ts)


def edit_own(
    ws: Workspace, channel: Channel, user_id: str, ts: str, text: str, *, base_url: str = ""
) -> tuple[Message, list[Pending]]:
    """A person editing one of their messages."""
    require_writable(channel, user_id, "edit")
    message = _own(channel, user_id, ts, "edit")
    return message, [edit(ws, channel, message, text, base_url=base_url)]


def remove(ws: Workspace, channel: Channel, message: Message, *, base_url: str = "") -> Pending:
    """Delete a message (a thread parent with replies becomes a tombstone), unpinning it."""
    previous = message_dict(ws, channel, message, metadata=False, base_url=base_url)
    event_ts = ws.next_ts()
    channel.pins.discard(message.ts)
    channel.pin_info.pop(message.ts, None)
    for file_id in message.files:
        record = ws.files.get(file_id)
        if record is not None and message.ts in record.shares.get(channel.id, []):
            record.shares[channel.id].remove(message.ts)
            if not record.shares[channel.id]:
                del record.shares[channel.id]
    if not message.is_reply and channel.replies(message.ts):
        message.subtype, message.text, message.blocks = (
            "tombstone",
            "This message was deleted.",
            None,
        )
        message.metadata, message.attachments, message.files = None, None, []
        message.reactions, message.client_msg_id = [], None
        message.edited, message.edited_ts = False, None
        message.extra["hidden"] = True
        new = message_dict(ws, channel, message, metadata=False, base_url=base_url)
        return events.changed_event(channel, new, previous, event_ts)
    channel.messages.remove(message)
    return events.deleted_event(channel, previous, event_ts)


def delete_own(
    ws: Workspace, channel: Channel, user_id: str, ts: str, *, base_url: str = ""
) -> tuple[Message, list[Pending]]:
    """A person deleting one of their messages."""
    require_writable(channel, user_id, "delete")
    message = _own(channel, user_id, ts, "delete")
    return message, [remove(ws, channel, message, base_url=base_url)]


def react(
    ws: Workspace, channel: Channel, user_id: str, ts: str, name: str, *, add: bool
) -> tuple[Message, list[Pending]]:
    """A person adding (or taking back) an emoji reaction."""
    _can_see(channel, user_id)
    name = name.strip(":")
    if not _EMOJI_RE.match(name):
        raise ValueError(f"{name!r} is not an emoji name")
    message = _message(channel, ts)
    if message.subtype == "tombstone":
        raise AssertionError(f"message {ts} was deleted")
    reaction = next((r for r in message.reactions if r.name == name), None)
    if add:
        if reaction is not None and user_id in reaction.users:
            raise AssertionError(f"{user_id} already reacted with :{name}: to {ts}")
        if reaction is None:
            reaction = Reaction(name)
            message.reactions.append(reaction)
        reaction.users.append(user_id)
    else:
        if reaction is None or user_id not in reaction.users:
            raise AssertionError(f"{user_id} has no :{name}: reaction on {ts}")
        reaction.users.remove(user_id)
        if not reaction.users:
            message.reactions.remove(reaction)
    kind = "reaction_added" if add else "reaction_removed"
    return message, [events.reaction_event(kind, channel, message, user_id, name, ws.next_ts())]


def pin(
    ws: Workspace,
    channel: Channel,
    user_id: str,
    ts: str,
    *,
    store: bool,
    base_url: str = "",
) -> tuple[Message, list[Pending]]:
    """Pin a message: pin_added, and the pinned_item notice Slack posts in the conversation.

    The caller checks that `user_id` may pin there (people: `member_pin`; the bot: pins.add).
    """
    message = _message(channel, ts)
    if ts in channel.pins:
        raise AssertionError(f"message {ts} is already pinned in {channel.id}")
    pinned_at = int(time.time())
    channel.pins.add(ts)
    channel.pin_info[ts] = (pinned_at, user_id)
    added = events.pin_event(
        "pin_added",
        ws,
        channel,
        message,
        user=user_id,
        pinned_by=user_id,
        pinned_at=pinned_at,
        event_ts=ws.next_ts(),
        base_url=base_url,
    )
    where = "conversation" if channel.is_im else "channel"
    _, notice = system_message(
        ws,
        channel,
        "pinned_item",
        f"<@{user_id}> pinned a message to this {where}.",
        user_id,
        store=store,
        base_url=base_url,
        item_type="G" if channel.is_private and not channel.is_im else channel.id[0],
        pinned_ts=ts,
    )
    notice.event["item"] = added.event["item"]["message"]
    return message, [added, notice]


def unpin(
    ws: Workspace, channel: Channel, user_id: str, ts: str, *, base_url: str = ""
) -> tuple[Message, list[Pending]]:
    """Un-pin a message: pin_removed (Slack posts no notice in the conversation)."""
    message = _message(channel, ts)
    if ts not in channel.pins:
        raise AssertionError(f"message {ts} is not pinned in {channel.id}")
    pinned_at, pinned_by = channel.pin_info.get(ts, (0, user_id))
    channel.pins.discard(ts)
    channel.pin_info.pop(ts, None)
    removed = events.pin_event(
        "pin_removed",
        ws,
        channel,
        message,
        user=user_id,
        pinned_by=pinned_by,
        pinned_at=pinned_at,
        event_ts=ws.next_ts(),
        base_url=base_url,
    )
    return message, [removed]


def member_pin(
    ws: Workspace, channel: Channel, user_id: str, ts: str, *, store: bool, base_url: str = ""
) -> tuple[Message, list[Pending]]:
    """A person pinning a message: only members of an unarchived conversation can."""
    require_writable(channel, user_id, "pin")
    return pin(ws, channel, user_id, ts, store=store, base_url=base_url)


def member_unpin(
    ws: Workspace, channel: Channel, user_id: str, ts: str, *, base_url: str = ""
) -> tuple[Message, list[Pending]]:
    """A person un-pinning a message: only members of an unarchived conversation can."""
    require_writable(channel, user_id, "unpin")
    return unpin(ws, channel, user_id, ts, base_url=base_url)


def share_file(
    ws: Workspace,
    channel: Channel,
    user_id: str,
    name: str,
    content: bytes,
    *,
    title: str | None,
    text: str,
    thread_ts: str | None,
    base_url: str = "",
) -> tuple[Message, list[Pending]]:
    """A person uploading a file into a conversation (a `file_share` message)."""
    require_writable(channel, user_id, "share files")
    parent = _message(channel, thread_ts) if thread_ts is not None else None
    record = FileRecord(
        id=ws.new_id("F"),
        name=name,
        title=title or name,
        length=len(content),
        user=user_id,
        created=int(time.time()),
        upload_token=secrets.token_urlsafe(16),
        data=content,
        completed=True,
    )
    ws.files[record.id] = record
    message = Message(
        ts=ws.next_ts(),
        user=user_id,
        text=text,
        blocks=rich_text_blocks(text) if text else None,
        thread_ts=(parent.thread_ts or parent.ts) if parent else None,
        client_msg_id=str(uuid.uuid4()),
        subtype="file_share",
        files=[record.id],
        extra={"upload": True, "display_as_bot": False},
    )
    channel.insert(message)
    record.shares[channel.id] = [message.ts]
    return message, events.posted_events(ws, channel, message, base_url=base_url)


def join(
    ws: Workspace,
    channel: Channel,
    user_id: str,
    *,
    inviter: str | None,
    store: bool,
) -> tuple[Message, list[Pending]]:
    """A person joining (or being invited into) a channel."""
    if inviter is not None and inviter not in ws.users:
        raise AssertionError(f"unknown inviter {inviter!r}")
    if channel.is_im:
        raise AssertionError(f"{channel.id} is a DM; nobody joins it")
    if user_id in channel.members:
        raise AssertionError(f"{user_id} is already in {channel.id}")
    if channel.is_archived:
        raise AssertionError(f"{channel.id} is archived; nobody can join it")
    if inviter is not None and inviter not in channel.members:
        raise AssertionError(f"{inviter} cannot invite into {channel.id}: not a member")
    if inviter is None and channel.is_private:
        raise AssertionError(f"{channel.id} is private: joining it takes an inviter")
    channel.members.add(user_id)
    joined = events.member_event(
        "member_joined_channel", ws, channel, user_id, ws.next_ts(), inviter
    )
    extra = {"inviter": inviter} if inviter else {}
    message, notice = system_message(
        ws,
        channel,
        "channel_join",
        f"<@{user_id}> has joined the channel",
        user_id,
        store=store,
        **extra,
    )
    return message, [joined, notice]


def leave(
    ws: Workspace, channel: Channel, user_id: str, *, store: bool
) -> tuple[Message, list[Pending]]:
    """A person leaving a channel."""
    if channel.is_im:
        raise AssertionError(f"{channel.id} is a DM; nobody leaves it")
    if user_id not in channel.members:
        raise AssertionError(f"{user_id} is not in {channel.id}")
    if channel.is_archived:
        raise AssertionError(f"{channel.id} is archived; nobody can leave it")
    channel.members.discard(user_id)
    left = events.member_event("member_left_channel", ws, channel, user_id, ws.next_ts(), None)
    message, notice = system_message(
        ws, channel, "channel_leave", f"<@{user_id}> has left the channel", user_id, store=store
    )
    return message, [left, notice]


def bot_post(
    ws: Workspace,
    channel: Channel,
    bot_name: str,
    text: str,
    blocks: list[JSONDict] | None,
    *,
    thread_ts: str | None,
) -> tuple[Message, list[Pending]]:
    """Another app's bot (or an integration) posting a `bot_message`."""
    if channel.is_archived:
        raise AssertionError(f"{channel.id} is archived; nobody can post in it")
    if not text and not blocks:
        raise AssertionError("Slack would reject a message with no text and no blocks (no_text)")
    if blocks is not None:
        problems = blockkit.validate_blocks(blocks, "message")
        if problems:
            raise AssertionError(f"Slack would reject these blocks: {problems}")
        blocks = blockkit.assign_ids(blocks)
    parent = _message(channel, thread_ts) if thread_ts is not None else None
    bot = ws.other_bot(bot_name)
    message = Message(
        ts=ws.next_ts(),
        user=None,
        text=text,
        blocks=blocks,
        bot_id=bot.id,
        app_id=bot.app_id,
        subtype="bot_message",
        thread_ts=(parent.thread_ts or parent.ts) if parent else None,
        extra={
            "username": bot.name,
            "icons": {"image_48": f"https://fake.slack-edge.com/{bot.id}_48.png"},
        },
    )
    channel.insert(message)
    return message, events.posted_events(ws, channel, message)
