"""The review draft's timeline entries, written from the timeline `review_timeline` reads:
each key event labelled with its detail in words, the replies under pinned messages, and
people's other messages counted per hour."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.models import Incident, TimelineKind
from bot.policy import Policy
from bot.services import review_wording as wording
from bot.services.markdown_text import Names, one_line
from bot.services.review_timeline import MESSAGE_LIKE, REPLIES_SHOWN, Row, Timeline

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
_ACTION_PREFIX = re.compile(r"^Action #\d+(?: done)?: ")


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
