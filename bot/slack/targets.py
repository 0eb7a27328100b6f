"""What a notify name stands for: a contact's Slack ID or a Slack ID named directly, and
whether that is a person, a user group or a channel."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

# A Slack user (U…, W… on Enterprise Grid), user group (S…) or channel (C…, G…) ID.
SLACK_TARGET = re.compile(r"^(?:[UWSCG][A-Z0-9]{2,})$")

TargetKind = Literal["person", "group", "channel"]
_KINDS: dict[str, TargetKind] = {
    "U": "person",
    "W": "person",
    "S": "group",
    "C": "channel",
    "G": "channel",
}


def contact(contacts: Mapping[str, str | None], name: str) -> str | None:
    """The target a notify name stands for: its contact's Slack ID (None while that contact
    is not set), or the name itself (a Slack ID, or an email book key)."""
    return contacts.get(name, name)


def resolved(contacts: Mapping[str, str | None], names: list[str]) -> list[str]:
    """The targets notify names stand for, leaving out contacts that are not set."""
    return [t for t in (contact(contacts, name) for name in names) if t]


def kind(target: str) -> TargetKind | None:
    """Whether a Slack ID is a person, a user group or a channel (None: not a Slack ID)."""
    return _KINDS[target[0]] if SLACK_TARGET.match(target) else None
