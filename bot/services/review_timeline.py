"""The review draft's timeline: what happened, from the impact's start, each entry labelled.

Key events (changes of state, updates, notes, actions, pinned or :pushpin:ed messages with
their thread replies) are shown one by one; people's other messages are counted per hour.
Joins, leaves, this bot's posts and other apps' messages are neither shown nor counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot.models import TimelineEvent, TimelineKind
from bot.services.markdown_text import mentioned_channels, mentioned_people

KEY_KINDS = frozenset(
    {
        TimelineKind.DECLARED,
        TimelineKind.STATUS_CHANGED,
        TimelineKind.SEVERITY_CHANGED,
        TimelineKind.PRIORITY_CHANGED,
        TimelineKind.ROLE_ASSIGNED,
        TimelineKind.HANDOFF,
        TimelineKind.STATUS_UPDATE,
        TimelineKind.NOTE,
        TimelineKind.IMPACT_STARTED,
        TimelineKind.ACTION_ADDED,
        TimelineKind.ACTION_DONE,
        TimelineKind.RESOLVED,
        TimelineKind.CLOSED,
        TimelineKind.REOPENED,
        TimelineKind.PUBLIC_UPDATE,
    }
)
# Messages that can be marked as key messages and that can answer in their threads.
MESSAGE_LIKE = frozenset({TimelineKind.MESSAGE, TimelineKind.FILE_SHARED, TimelineKind.BOT_MESSAGE})
# What people wrote: counted as routine discussion unless shown.
PEOPLE_KINDS = frozenset({TimelineKind.MESSAGE, TimelineKind.FILE_SHARED})
REPLIES_SHOWN = 20

_COLUMNS = [
    TimelineEvent.__table__.c[name]  # type: ignore[attr-defined]
    for name in (
        "id",
        "kind",
        "occurred_at",
        "actor_id",
        "text",
        "data",
        "slack_ts",
        "thread_ts",
        "is_key_event",
        "edited_at",
    )
]


@dataclass(frozen=True)
class Row:
    """A timeline row as the draft reads it."""

    id: int
    kind: str
    occurred_at: datetime
    actor_id: str | None
    text: str
    data: dict[str, Any]
    slack_ts: str | None
    thread_ts: str | None
    is_key_event: bool
    edited_at: datetime | None


@dataclass
class Timeline:
    """An incident's timeline, sorted into what the draft shows and what it counts."""

    shown: list[Row] = field(default_factory=list)
    replies: dict[str, list[Row]] = field(default_factory=dict)  # by the key message's ts
    routine: list[tuple[datetime, str]] = field(default_factory=list)  # (when, who)


def _is_shown(row: Row) -> bool:
    if row.kind in KEY_KINDS:
        return True
    return row.is_key_event and row.kind in MESSAGE_LIKE


def _is_person(row: Row) -> bool:
    # Slack puts a bot_id on every app's message, also when the app posts as its own user.
    return row.kind in PEOPLE_KINDS and not row.data.get("bot_id")


def load(session: Session, incident_id: int) -> Timeline:
    """Read the timeline (deleted messages left out) and sort it."""
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    result = session.execute(
        select(*_COLUMNS)
        .where(table.c.incident_id == incident_id, table.c.deleted_at.is_(None))
        .order_by(table.c.occurred_at, table.c.id)
    )
    rows = [Row(*values) for values in result]
    timeline = Timeline()
    parents: set[str] = set()
    for row in rows:
        if _is_shown(row):
            timeline.shown.append(row)
            if row.slack_ts and row.kind in MESSAGE_LIKE:
                parents.add(row.slack_ts)
    for row in rows:
        if row.kind not in MESSAGE_LIKE or _is_shown(row):
            continue
        if row.thread_ts is not None and row.thread_ts in parents:
            timeline.replies.setdefault(row.thread_ts, []).append(row)
        elif _is_person(row):
            timeline.routine.append((row.occurred_at, row.actor_id or "?"))
    return timeline


def _shown_rows(timeline: Timeline) -> Iterator[Row]:
    yield from timeline.shown
    for replies in timeline.replies.values():
        yield from replies[:REPLIES_SHOWN]


_DATA_PEOPLE = ("user", "previous", "from", "to", "owner")
_DATA_TEXTS = ("known", "in_progress", "pending", "impact", "next_steps", "resolution")


def texts(timeline: Timeline) -> Iterator[str]:
    """Every text the draft's timeline shows (for the mentions in it)."""
    for row in _shown_rows(timeline):
        yield row.text
        for key in _DATA_TEXTS:
            value = row.data.get(key)
            if isinstance(value, str):
                yield value


def people(timeline: Timeline) -> set[str]:
    """The people the timeline names: actors, role holders, owners, and mentions."""
    found = mentioned_people(texts(timeline))
    for row in _shown_rows(timeline):
        if row.actor_id:
            found.add(row.actor_id)
        for key in _DATA_PEOPLE:
            value = row.data.get(key)
            if isinstance(value, str) and value:
                found.add(value)
    return {person for person in found if person[:1] in ("U", "W")}


def channels(timeline: Timeline) -> dict[str, str]:
    """The channels the timeline mentions, with the name a mention carried."""
    return mentioned_channels(texts(timeline))
