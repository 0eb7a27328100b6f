"""Impact periods: stretches of customer impact (a reopened incident gets a new one)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.models import ImpactPeriod, Incident


def start_first_period(session: Session, incident: Incident) -> None:
    """Open the first impact period when an incident is declared."""
    assert incident.id is not None and incident.impact_started_at is not None
    session.add(
        ImpactPeriod(incident_id=incident.id, ordinal=1, started_at=incident.impact_started_at)
    )


def current_period(session: Session, incident: Incident) -> ImpactPeriod | None:
    """The latest impact period."""
    return session.exec(
        select(ImpactPeriod)
        .where(ImpactPeriod.incident_id == incident.id)
        .order_by(col(ImpactPeriod.ordinal).desc())
    ).first()


def periods(session: Session, incident: Incident) -> list[ImpactPeriod]:
    """Every impact period, in order."""
    return list(
        session.exec(
            select(ImpactPeriod)
            .where(ImpactPeriod.incident_id == incident.id)
            .order_by(col(ImpactPeriod.ordinal))
        ).all()
    )
