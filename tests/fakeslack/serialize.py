"""The JSON shapes Slack's Web API uses for channels, messages, users, files and views."""

from __future__ import annotations

import datetime as dt
import mimetypes
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .state import Channel, FileRecord, Message, User, Workspace

JSONDict = dict[str, Any]

# Properties the fake keeps on stored views that are not part of Slack's view object.
PRIVATE_VIEW_KEYS = frozenset({"user"})


def channel_dict(ws: Workspace, channel: Channel, *, num_members: bool = False) -> JSONDict:
    """A conversation object as conversations.info returns it."""
    if channel.is_im:
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": ws.team_id,
            "updated": channel.created * 1000,
            "user": channel.im_user,
            "is_user_deleted": False,
            "priority": 0,
            "is_open": True,
        }
    data: JSONDict = {
        "id": channel.id,
        "name": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": False,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": ws.team_id,
        "updated": channel.created * 1000,
        "parent_conversation": None,
        "creator": channel.creator,
        "is_ext_shared": False,
        "shared_team_ids": [ws.team_id],
        "pending_connected_team_ids": [],
        "is_member": ws.bot_user_id in channel.members,
        "topic": {
            "value": channel.topic,
            "creator": channel.topic_set_by,
            "last_set": channel.topic_set_at,
        },
        "purpose": {
            "value": channel.purpose,
            "creator": channel.purpose_set_by,
            "last_set": channel.purpose_set_at,
        },
        "previous_names": [],
    }
    if num_members:
        data["num_members"] = len(channel.members)
    return data


def bot_profile(ws: Workspace) -> JSONDict:
    """The bot_profile object Slack attaches to the bot's messages."""
    bot = ws.users[ws.bot_user_id]
    return {
        "id": ws.bot_id,
        "app_id": ws.app_id,
        "name": bot.name,
        "icons": {"image_48": "https://fake.slack-edge.com/bot_48.png"},
        "deleted": False,
        "updated": 1_700_000_000,
        "team_id": ws.team_id,
    }


def message_dict(
    ws: Workspace, channel: Channel, message: Message, *, metadata: bool, base_url: str = ""
) -> JSONDict:
    """A message object as conversations.history returns it."""
    data: JSONDict = {"type": "message", "ts": message.ts}
    if message.subtype:
        data["subtype"] = message.subtype
    if message.user:
        data["user"] = message.user
    if message.bot_id:
        data["bot_id"] = message.bot_id
        data["app_id"] = message.app_id or ws.app_id
    data["text"] = message.text
    data["team"] = ws.team_id
    if message.bot_id == ws.bot_id:
        data["bot_profile"] = bot_profile(ws)
    if message.client_msg_id:
        data["client_msg_id"] = message.client_msg_id
    if message.blocks is not None:
        data["blocks"] = message.blocks
    if message.attachments:
        data["attachments"] = message.attachments
    if message.files:
        data["files"] = [
            file_dict(ws, ws.files[file_id], base_url)
            for file_id in message.files
            if file_id in ws.files
        ]
        data["upload"] = False
        data["display_as_bot"] = False
    if message.edited:
        data["edited"] = {"user": message.user, "ts": message.edited_ts}
    if message.is_reply:
        data["thread_ts"] = message.thread_ts
        parent = channel.message(message.thread_ts or "")
        if parent is not None and parent.user:
            data["parent_user_id"] = parent.user
    else:
        replies = channel.replies(message.ts)
        if replies:
            users = list(dict.fromkeys(r.user for r in replies if r.user))
            data.update(
                thread_ts=message.ts,
                reply_count=len(replies),
                reply_users_count=len(users),
                latest_reply=replies[-1].ts,
                reply_users=users[:5],
                is_locked=False,
                subscribed=False,
            )
    if message.ts in channel.pins:
        data["pinned_to"] = [channel.id]
    if message.reactions:
        data["reactions"] = [
            {"name": r.name, "users": list(r.users), "count": len(r.users)}
            for r in message.reactions
        ]
    if metadata and message.metadata is not None:
        data["metadata"] = message.metadata
    data.update(message.extra)
    return data


def _tz_details(tz: str) -> tuple[str, int]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC", 0
    now = dt.datetime.now(zone)
    offset = now.utcoffset() or dt.timedelta()
    return now.tzname() or tz, int(offset.total_seconds())


def user_dict(ws: Workspace, user: User, *, locale: bool = False) -> JSONDict:
    """A user object as users.info returns it."""
    tz_label, tz_offset = _tz_details(user.tz)
    display_name = user.name if user.display_name is None else user.display_name
    profile: JSONDict = {
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": display_name,
        "display_name_normalized": display_name,
        "status_text": "",
        "status_emoji": "",
        "team": user.team_id or ws.team_id,
        "image_48": f"https://fake.slack-edge.com/{user.id}_48.png",
    }
    if user.email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
        profile["api_app_id"] = user.app_id or ws.app_id
    data: JSONDict = {
        "id": user.id,
        "team_id": user.team_id or ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": tz_label,
        "tz_offset": tz_offset,
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": user.is_restricted or user.is_ultra_restricted,
        "is_ultra_restricted": user.is_ultra_restricted,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1_700_000_000,
    }
    if user.team_id is not None and user.team_id != ws.team_id:
        data["is_stranger"] = True
    if locale:
        data["locale"] = "en-US"
    return data


def file_dict(ws: Workspace, record: FileRecord, base_url: str = "") -> JSONDict:
    """A file object as files.info returns it."""
    mimetype = mimetypes.guess_type(record.name)[0] or "application/octet-stream"
    filetype = record.name.rsplit(".", 1)[-1].lower() if "." in record.name else "binary"
    public: JSONDict = {}
    private: JSONDict = {}
    for channel_id, stamps in record.shares.items():
        channel = ws.channels.get(channel_id)
        target = private if channel is None or channel.is_private else public
        target[channel_id] = [
            {"ts": ts, "channel_name": channel.name if channel else ""} for ts in stamps
        ]
    data: JSONDict = {
        "id": record.id,
        "created": record.created,
        "timestamp": record.created,
        "name": record.name,
        "title": record.title,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": record.user,
        "user_team": ws.team_id,
        "editable": False,
        "size": len(record.data) if record.data is not None else record.length,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": bool(public),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"{base_url}/files-pri/{ws.team_id}-{record.id}/{record.name}",
        "url_private_download": f"{base_url}/files-pri/{ws.team_id}-{record.id}/download/"
        f"{record.name}",
        "permalink": f"https://{ws.team_domain}.slack.com/files/{record.user}/{record.id}/"
        f"{record.name}",
        "channels": list(public),
        "groups": [c for c in private if not c.startswith("D")],
        "ims": [c for c in private if c.startswith("D")],
        "shares": {k: v for k, v in (("public", public), ("private", private)) if v},
        "has_rich_preview": False,
        "file_access": "visible",
    }
    if record.alt_txt:
        data["alt_txt"] = record.alt_txt
    return data


def view_dict(view: JSONDict) -> JSONDict:
    """A stored view as the Web API returns it (without the fake's own bookkeeping)."""
    return {k: v for k, v in view.items() if k not in PRIVATE_VIEW_KEYS}
