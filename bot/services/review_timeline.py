"""The review draft's timeline: what happened, from the impact's start, each entry labelled.

Key events (changes of state, updates, notes, actions, pinned or :pushpin:ed messages with
their thread replies) are shown one by one; people's other messages are counted per hour.
Joins, leaves, this bot's posts and other apps' messages are neither shown nor counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot.models import Incident, TimelineEvent, TimelineKind
from bot.policy import Policy
from bot.services import review_wording as wording
from bot.services.markdown_text import Names, mentioned_channels, mentioned_people, one_line

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
LABELS: dict[str, str] = {
    TimelineKind.DECLARED: "Declared",
    TimelineKind.STATUS_CHANGED: "Status",
    TimelineKind.SEVERITY_CHANGED: "Severity",
    TimelineKind.PRIORITY_CHANGED: "Priority",
    TimelineKind.ROLE_ASSIGNED: "Role",
    TimelineKind.HANDOFF: "Handoff",
    TimelineKind.STATUS_UPDATE: "Update",
    TimelineKind.NOTE: "Note",
    TimelineKind.IMPACT_STARTED: "Impact start",
    TimelineKind.ACTION_ADDED: "Action added",
    TimelineKind.ACTION_DONE: "Action done",
    TimelineKind.RESOLVED: "Resolved",
    TimelineKind.CLOSED: "Closed",
    TimelineKind.REOPENED: "Reopened",
    TimelineKind.PUBLIC_UPDATE: "Status page",
}
ENTRY_MAX = 500
REPLIES_SHOWN = 20
_ACTION_PREFIX = re.compile(r"^Action #\d+(?: done)?: ")

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


@dataclass(frozen=True)
class Writer:
    """Writes the timeline's entries for one draft."""

    policy: Policy
    names: Names
    with_date: bool

    def who(self, row: Row) -> str:
        """The actor: a person's name, or another app's."""
        actor = row.actor_id
        if row.kind == TimelineKind.BOT_MESSAGE or (actor or "").startswith("B"):
            return str(row.data.get("username") or "an app")
        return self.names.person(actor)

    def md(self, text: object) -> str:
        """Stored text as one line of Markdown."""
        return one_line(self.names.markdown(str(text or "")), ENTRY_MAX)

    def at(self, moment: datetime) -> str:
        """A time on the timeline (which says once that its times are UTC)."""
        return moment.strftime("%Y-%m-%d %H:%M" if self.with_date else "%H:%M")

    def _by(self, row: Row) -> str:
        return f", by {self.who(row)}" if row.actor_id else ""

    def role(self, key: object) -> str:
        """A role's name from its key."""
        role = self.policy.roles.get(str(key))
        return role.name if role is not None else str(key or "a role")

    def _message(self, row: Row) -> str:
        text = self.md(row.text)
        files = [str(f.get("title") or f.get("name")) for f in row.data.get("files") or [] if f]
        if files:
            text = (text + " " if text else "") + "📎 " + ", ".join(files)
        return f"{self.who(row)}: {text}" + (" (edited)" if row.edited_at else "")

    def _declared(self, row: Row) -> str:
        severity = wording.severity(self.policy, row.data.get("severity"))
        priority = f" ({row.data['priority']})" if row.data.get("priority") else ""
        return f"by {self.who(row)} as {severity}{priority}: {self.md(row.text)}"

    def _moved(self, row: Row) -> str:
        data = row.data
        if "old" not in data or "new" not in data:
            return self.md(row.text) + self._by(row)
        if row.kind == TimelineKind.STATUS_CHANGED:
            old, new = wording.status(data["old"]), wording.status(data["new"])
        elif row.kind == TimelineKind.SEVERITY_CHANGED:
            old = wording.severity(self.policy, data["old"])
            new = wording.severity(self.policy, data["new"])
        else:
            old, new = str(data["old"]), str(data["new"])
            if data.get("impact") or data.get("urgency"):
                impact, urgency = data.get("impact") or "-", data.get("urgency") or "-"
                new += f" (impact {impact}, urgency {urgency})"
        return f"{old} → {new}{self._by(row)}"

    def _role_assigned(self, row: Row) -> str:
        data = row.data
        if not data.get("user"):
            return self.md(row.text) + self._by(row)
        text = f"{self.role(data.get('role'))}: {self.names.person(data['user'])}"
        if data.get("previous"):
            text += f" (was {self.names.person(data['previous'])})"
        return text + (self._by(row) if row.actor_id != data["user"] else "")

    def _handoff(self, row: Row) -> str:
        data = row.data
        if not data.get("to"):
            return self.md(row.text) + self._by(row)
        text = (
            f"{self.role(data.get('role'))} from {self.names.person(data.get('from'))}"
            f" to {self.names.person(data['to'])}"
        )
        notes = [
            f"{label}: {self.md(data[key])}"
            for key, label in (
                ("known", "known then"),
                ("in_progress", "in progress"),
                ("pending", "pending"),
            )
            if wording.known(data.get(key))
        ]
        return text + ("; " + "; ".join(notes) if notes else "")

    def _update(self, row: Row) -> str:
        data = row.data
        parts = [f"{self.who(row)}: {wording.status(data.get('status'))}", self.md(row.text)]
        if wording.known(data.get("impact")):
            parts.append(f"Impact: {self.md(data['impact'])}")
        if wording.known(data.get("next_steps")):
            parts.append(f"Next: {self.md(data['next_steps'])}")
        return " — ".join(parts)

    def _action(self, row: Row) -> str:
        data = row.data
        extra = []
        if row.kind != TimelineKind.ACTION_DONE:
            if data.get("owner"):
                extra.append(f"owner {self.names.person(data['owner'])}")
            if data.get("due"):
                extra.append(f"due {data['due']}")
        more = f" ({', '.join(extra)})" if extra else ""
        text = self.md(_ACTION_PREFIX.sub("", row.text))
        return f"#{data.get('action')} {text}{more}{self._by(row)}"

    def _note(self, row: Row) -> str:
        return f"{self.who(row)}: {self.md(row.text)}"

    def _impact_started(self, row: Row) -> str:
        if not row.data.get("started_at"):
            return self.md(row.text) + self._by(row)
        started = datetime.fromisoformat(str(row.data["started_at"]))
        return f"set to {wording.moment(started)}{self._by(row)}"

    def _resolved(self, row: Row) -> str:
        how = wording.known(row.data.get("resolution"))
        return f"by {self.who(row)}" + (f": {self.md(how)}" if how else "")

    def _reopened(self, row: Row) -> str:
        was = f" (was {wording.status(row.data['old'])})" if row.data.get("old") else ""
        return f"by {self.who(row)}{was}; a new impact period starts"

    def _closed(self, row: Row) -> str:
        return f"by {self.who(row)}"

    def detail(self, row: Row) -> str:
        """What an entry says, from its data where the data says more than its text."""
        if self._is_action(row) or row.kind == TimelineKind.ACTION_DONE:
            return self._action(row)
        if row.kind in MESSAGE_LIKE:
            return "📌 " + self._message(row)
        writers: dict[str, Callable[[Row], str]] = {
            TimelineKind.DECLARED: self._declared,
            TimelineKind.STATUS_CHANGED: self._moved,
            TimelineKind.SEVERITY_CHANGED: self._moved,
            TimelineKind.PRIORITY_CHANGED: self._moved,
            TimelineKind.ROLE_ASSIGNED: self._role_assigned,
            TimelineKind.HANDOFF: self._handoff,
            TimelineKind.STATUS_UPDATE: self._update,
            TimelineKind.NOTE: self._note,
            TimelineKind.IMPACT_STARTED: self._impact_started,
            TimelineKind.RESOLVED: self._resolved,
            TimelineKind.REOPENED: self._reopened,
            TimelineKind.CLOSED: self._closed,
        }
        write = writers.get(row.kind)
        return write(row) if write is not None else self.md(row.text) + self._by(row)

    @staticmethod
    def _is_action(row: Row) -> bool:
        # Before actions had kinds of their own they were notes carrying the action's number.
        return row.kind == TimelineKind.ACTION_ADDED or (
            row.kind == TimelineKind.NOTE and "action" in row.data
        )

    def label(self, row: Row) -> str:
        """The entry's label: what kind of thing happened."""
        if self._is_action(row):
            return "Action added"
        if row.kind in MESSAGE_LIKE:
            return "Key message"
        return LABELS.get(row.kind) or row.kind.replace("_", " ").capitalize()

    def replies(self, timeline: Timeline, row: Row) -> list[dict[str, str]]:
        """The thread replies under a key message (the first few, then a count)."""
        if row.kind not in MESSAGE_LIKE or not row.slack_ts:
            return []
        found = timeline.replies.get(row.slack_ts, [])
        shown = [
            {"at": self.at(reply.occurred_at), "text": self._message(reply)}
            for reply in found[:REPLIES_SHOWN]
        ]
        if len(found) > REPLIES_SHOWN:
            shown.append({"at": "", "text": f"… and {len(found) - REPLIES_SHOWN} more replies"})
        return shown


def entries(
    timeline: Timeline,
    incident: Incident,
    *,
    acknowledged_by: str | None,
    writer: Writer,
) -> list[dict[str, Any]]:
    """The timeline's entries, from the impact's start: time, label, detail, replies."""
    ranked: list[tuple[datetime, int, dict[str, Any]]] = []
    began = incident.impact_started_at or incident.declared_at
    ranked.append((began, 0, {"label": "Impact began", "text": "", "replies": []}))
    if incident.acknowledged_at is not None:
        who = writer.names.person(acknowledged_by) if acknowledged_by else ""
        ranked.append(
            (
                incident.acknowledged_at,
                2,
                {"label": "Acknowledged", "text": f"by {who}" if who else "", "replies": []},
            )
        )
    for row in timeline.shown:
        rank = 1 if row.kind == TimelineKind.DECLARED else 3
        entry = {
            "label": writer.label(row),
            "text": writer.detail(row),
            "replies": writer.replies(timeline, row),
        }
        ranked.append((row.occurred_at, rank, entry))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [{"at": writer.at(at), **entry} for at, _, entry in ranked]


def routine(timeline: Timeline, *, with_date: bool) -> list[dict[str, Any]]:
    """People's other messages, counted per hour, with how many people wrote them."""
    buckets: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    fmt = "%Y-%m-%d %H:00" if with_date else "%H:00"
    for at, who in timeline.routine:
        hour = at.strftime(fmt)
        counts[hour] = counts.get(hour, 0) + 1
        buckets.setdefault(hour, set()).add(who)
    return [
        {"hour": hour, "count": counts[hour], "people": len(buckets[hour])}
        for hour in sorted(counts)
    ]
