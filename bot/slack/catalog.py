"""What the bot asks of Slack's Web API and what it reads back: every method it calls (its
rate-limit tier and the scopes it relies on; the manifest test checks manifest.yml grants
exactly these), and the records the gateway makes of Slack's answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Method:
    """A Web API method the bot calls: its rate-limit tier and the bot scopes it relies on."""

    tier: str
    scopes: tuple[str, ...] = ()
    # Scopes that add to what the method answers (users:read.email: the profile's email).
    adds: tuple[str, ...] = ()


# Every Web API method the bot calls. Where a method acts on public and private channels
# both scopes are listed. The manifest test checks manifest.yml grants exactly these.
METHODS: dict[str, Method] = {
    "auth.test": Method("special"),
    "chat.getPermalink": Method("special"),
    "chat.postMessage": Method("special", ("chat:write",)),
    "chat.postEphemeral": Method("tier4", ("chat:write",)),
    "chat.update": Method("tier3", ("chat:write",)),
    "conversations.create": Method("tier2", ("channels:manage", "groups:write")),
    "files.completeUploadExternal": Method("tier4", ("files:write",)),
    "files.getUploadURLExternal": Method("tier4", ("files:write",)),
    "conversations.replies": Method("tier3", ("channels:history", "groups:history", "im:history")),
    "conversations.history": Method("tier3", ("channels:history", "groups:history", "im:history")),
    "conversations.invite": Method("tier3", ("channels:manage", "groups:write")),
    "conversations.join": Method("tier3", ("channels:join",)),
    "conversations.list": Method("tier2", ("channels:read", "groups:read")),
    "conversations.open": Method("tier3", ("im:write",)),
    "conversations.setTopic": Method("tier2", ("channels:manage", "groups:write")),
    "pins.add": Method("tier2", ("pins:write",)),
    "users.conversations": Method("tier3", ("groups:read",)),
    "users.info": Method("tier4", ("users:read",), adds=("users:read.email",)),
    "usergroups.users.list": Method("tier2", ("usergroups:read",)),
    "views.open": Method("tier4"),
}


@dataclass(frozen=True)
class Identity:
    """Who the bot is in the workspace."""

    user_id: str
    bot_id: str
    team_id: str


@dataclass(frozen=True)
class User:
    """The parts of a person the bot uses."""

    id: str
    name: str
    is_bot: bool
    deleted: bool
    tz: str
    email: str | None = None  # the profile's email (with the users:read.email scope)


@dataclass(frozen=True)
class Channel:
    """The parts of a conversation the bot uses."""

    id: str
    name: str
    is_private: bool
    is_archived: bool
    creator: str
    created: int


def channel_from(data: dict[str, Any]) -> Channel:
    return Channel(
        id=data["id"],
        name=data.get("name", ""),
        is_private=bool(data.get("is_private")),
        is_archived=bool(data.get("is_archived")),
        creator=data.get("creator", ""),
        created=int(data.get("created", 0)),
    )


def user_from(info: dict[str, Any], user_id: str) -> User:
    profile = info.get("profile") or {}
    return User(
        id=str(info.get("id", user_id)),
        name=str(profile.get("display_name") or info.get("real_name") or info.get("name", "")),
        is_bot=bool(info.get("is_bot")),
        deleted=bool(info.get("deleted")),
        tz=str(info.get("tz") or "UTC"),
        email=str(profile["email"]) if profile.get("email") else None,
    )
