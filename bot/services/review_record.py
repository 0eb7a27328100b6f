"""What a review draft is written from: the incident's record, read in one go.

The people it names are listed for the caller to look up (the services know nothing of
Slack); channels are named from the mentions themselves and from the incidents' records,
except another incident's channel that `disclosure` keeps from this one (a private
incident's channel name carries its title): that is shown by its incident's reference only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot.models import ActionItem, AuditEntry, ImpactPeriod, Incident, RoleAssignment
from bot.services import (
    disclosure,
    follow_up_actions,
    impact_periods,
    review_timeline,
    status_updates,
)
from bot.services.markdown_text import mentioned_channels, mentioned_people


@dataclass
class Record:
    """What a draft is written from, read from the database in one go."""

    incident: Incident
    timeline: review_timeline.Timeline
    changes: list[AuditEntry]
    acknowledged_by: str | None
    roles: list[RoleAssignment]
    updates: int
    actions: list[ActionItem]
    periods: list[ImpactPeriod]
    channels: dict[str, str] = field(default_factory=dict)
    # Channels of other incidents this draft may not name (private ones): their references.
    withheld: dict[str, str] = field(default_factory=dict)


def _record_texts(incident: Incident, actions: list[ActionItem]) -> list[str]:
    return [
        incident.title,
        incident.description,
        incident.impact_summary,
        incident.root_cause,
        incident.resolution,
        incident.affected_services,
        *(item.text for item in actions),
    ]


def load(session: Session, incident: Incident) -> Record:
    """Read everything the draft needs about an incident."""
    assert incident.id is not None
    timeline = review_timeline.load(session, incident.id)
    audit = list(
        session.exec(
            select(AuditEntry)
            .where(
                AuditEntry.incident_id == incident.id,
                col(AuditEntry.field).in_(["severity", "priority", "acknowledged_at"]),
            )
            .order_by(col(AuditEntry.at), col(AuditEntry.id))
        ).all()
    )
    acknowledged = [a for a in audit if a.field == "acknowledged_at" and a.new_value]
    roles = list(
        session.exec(
            select(RoleAssignment)
            .where(RoleAssignment.incident_id == incident.id)
            .order_by(col(RoleAssignment.assigned_at), col(RoleAssignment.id))
        ).all()
    )
    actions = follow_up_actions.of_incident(session, incident)
    mentioned = review_timeline.channels(timeline)
    mentioned.update(
        (channel, name)
        for channel, name in mentioned_channels(_record_texts(incident, actions)).items()
        if name or channel not in mentioned
    )
    channels = {channel: name for channel, name in mentioned.items() if name}
    if incident.channel_id and incident.channel_name:
        channels[incident.channel_id] = incident.channel_name
    withheld: dict[str, str] = {}
    others = [channel for channel in mentioned if channel != incident.channel_id]
    if others:
        # The draft is posted in this incident's channel: another incident's channel is
        # named as that channel's members would see it from here.
        for other in session.exec(select(Incident).where(col(Incident.channel_id).in_(others))):
            assert other.channel_id is not None
            if disclosure.for_destination(other, incident.channel_id or "").restricted:
                withheld[other.channel_id] = other.reference  # wins over any name
            elif other.channel_name and not channels.get(other.channel_id):
                channels[other.channel_id] = other.channel_name
    return Record(
        incident=incident,
        timeline=timeline,
        changes=[a for a in audit if a.field in ("severity", "priority")],
        acknowledged_by=acknowledged[-1].actor_id if acknowledged else None,
        roles=roles,
        updates=status_updates.update_count(session, incident),
        actions=actions,
        periods=impact_periods.periods(session, incident),
        channels=channels,
        withheld=withheld,
    )


def people(record: Record) -> set[str]:
    """Every person the draft names (look each up once, then pass them to `compose`)."""
    incident = record.incident
    found = review_timeline.people(record.timeline)
    found.update(mentioned_people(_record_texts(incident, record.actions)))
    if incident.reporter_id:
        found.add(incident.reporter_id)
    for value in (incident.commander_id, record.acknowledged_by):
        if value:
            found.add(value)
    for role in record.roles:
        found.add(role.user_id)
    for item in record.actions:
        if item.owner_id:
            found.add(item.owner_id)
    return {person for person in found if person[:1] in ("U", "W")}
