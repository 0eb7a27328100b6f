"""Finding incidents: by channel, and the open ones."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.errors import NotFound
from bot.models import Incident
from bot.models.incident import OPEN_STATES


def by_channel(session: Session, channel_id: str) -> Incident | None:
    """The incident whose channel this is, if any."""
    return session.exec(select(Incident).where(Incident.channel_id == channel_id)).first()


def require_by_channel(session: Session, channel_id: str) -> Incident:
    """The incident of this channel, or a clear refusal."""
    incident = by_channel(session, channel_id)
    if incident is None:
        raise NotFound(
            "This is not an incident channel. Run it in an incident's channel, "
            "or use `/incident list` to find one."
        )
    return incident


def require(session: Session, incident_id: int) -> Incident:
    """The incident by ID, or a clear refusal (a button or form older than its row)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("That incident is not known any more.")
    return incident


def list_open(session: Session) -> list[Incident]:
    """Open incidents, most severe and oldest first."""
    return list(
        session.exec(
            select(Incident)
            .where(col(Incident.status).in_([str(s) for s in OPEN_STATES]))
            .order_by(col(Incident.severity), col(Incident.declared_at))
        ).all()
    )


def lock(session: Session, incident_id: int) -> Incident:
    """The incident, locked for the rest of the transaction (`FOR UPDATE` on PostgreSQL;
    SQLite's BEGIN IMMEDIATE already lets one writer in at a time)."""
    incident = session.exec(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).first()
    if incident is None:
        raise NotFound("That incident no longer exists.")
    return incident
