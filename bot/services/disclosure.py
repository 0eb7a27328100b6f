"""What of an incident each audience may see, decided in one place.

The members of an incident's own channel see everything. Everyone else — another
channel, a direct message, the announcement channel, `/incident list` for someone who
is not a member, the command-line exports — sees a private incident only as its
reference: no title, no description, no people, and no link to its channel (a non-member
could not open it). Every text that leaves an incident's channel is rendered from
`outside(incident)`, so a new feature cannot leak a private incident by forgetting a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import not_

from bot.models import Incident

PRIVATE_TITLE = "A private incident"
T = TypeVar("T")


@dataclass(frozen=True)
class IncidentView:
    """An incident as an audience outside its channel may see it.

    The attribute names are the incident's own, so a template renders either; for a
    private incident the fields that would tell what happened, or who is involved, are
    empty and `channel_id` is None.
    """

    id: int | None
    reference: str
    is_private: bool
    restricted: bool  # a private incident seen from outside: its reference only
    title: str
    description: str
    severity: str
    priority: str
    category: str
    status: str
    impact: str
    urgency: str
    affected_services: str
    impact_summary: str
    channel_id: str | None
    reporter_id: str | None
    commander_id: str | None
    declared_at: datetime
    resolved_at: datetime | None

    @property
    def is_open(self) -> bool:
        """Whether the incident is neither resolved nor closed."""
        return self.status not in ("resolved", "closed")


def inside(incident: Incident) -> IncidentView:
    """The incident as the members of its own channel see it: everything."""
    return _view(incident, restricted=False)


def outside(incident: Incident) -> IncidentView:
    """The incident as anyone outside its channel may see it."""
    return _view(incident, restricted=incident.is_private)


def _view(incident: Incident, *, restricted: bool) -> IncidentView:
    private = restricted
    return IncidentView(
        id=incident.id,
        reference=incident.reference,
        is_private=incident.is_private,
        restricted=restricted,
        title=PRIVATE_TITLE if private else incident.title,
        description="" if private else incident.description,
        severity=incident.severity,
        priority=incident.priority,
        category="" if private else incident.category,
        status=incident.status,
        impact=incident.impact,
        urgency=incident.urgency,
        affected_services="" if private else incident.affected_services,
        impact_summary="" if private else incident.impact_summary,
        channel_id=None if private else incident.channel_id,
        reporter_id=None if private else incident.reporter_id,
        commander_id=None if private else incident.commander_id,
        declared_at=incident.declared_at,
        resolved_at=incident.resolved_at,
    )


def for_destination(incident: Incident, destination: str) -> IncidentView:
    """The incident as seen where a message goes: all of it in its own channel only."""
    if incident.channel_id is not None and destination == incident.channel_id:
        return inside(incident)
    return outside(incident)


def quoted(view: IncidentView, *texts: T) -> tuple[T | None, ...]:
    """What an audience may be quoted of the incident's own words (its status updates, its
    public messages): everything inside, nothing outside a private incident's channel."""
    return tuple(None if view.restricted else text for text in texts)


def may_see(incident: Incident, member_of: set[str]) -> bool:
    """Whether someone in these private channels may see the incident at all (listings)."""
    return not incident.is_private or (
        incident.channel_id is not None and incident.channel_id in member_of
    )


def may_announce(incident: Incident) -> bool:
    """Whether the incident may be announced, or its changes copied, outside its channel."""
    return not incident.is_private


def may_publish(incident: Incident) -> bool:
    """Whether anything of the incident may reach the public status page (never if private:
    not its title, not its components, not even that it exists)."""
    return not incident.is_private


def shows_details(is_private: bool, reader_may_see: bool) -> bool:
    """Whether a listing or export (reports, CSV) may show an incident's details to this
    reader: its title, root cause and channel; counts include it either way."""
    return not is_private or reader_may_see


def detail_rows(is_private: Any, *, reader_sees_all: bool) -> list[Any]:
    """The SQL conditions for aggregates of incidents' details (the services they name,
    free text as telling as a title): private incidents' rows only for a reader who may see
    them all (`is_private`: the column to test)."""
    return [] if reader_sees_all else [not_(is_private)]


def listed_title(title: str, *, is_private: bool, reader_may_see: bool) -> str:
    """An incident's title in a listing or export, or only that it is private."""
    return title if shows_details(is_private, reader_may_see) else PRIVATE_TITLE.lower()
