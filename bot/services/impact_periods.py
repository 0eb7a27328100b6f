"""Impact periods: stretches of customer impact (a reopened incident gets a new one)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.models import ImpactPeriod, Incident, ScheduledTask


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


def ordinal_and_start(session: Session, incident: Incident) -> tuple[int, datetime]:
    """The current impact period's number and start (escalation is measured from it; the
    first period's from the declaration)."""
    period = current_period(session, incident)
    if period is None:
        return 1, incident.declared_at
    return period.ordinal, period.started_at if period.ordinal > 1 else incident.declared_at


def period_of(task: ScheduledTask) -> str:
    """The impact period a period-bound task belongs to (`p1`, `p2`, …), from its key."""
    return task.key.split(":")[0]


def periods(session: Session, incident: Incident) -> list[ImpactPeriod]:
    """Every impact period, in order."""
    return list(
        session.exec(
            select(ImpactPeriod)
            .where(ImpactPeriod.incident_id == incident.id)
            .order_by(col(ImpactPeriod.ordinal))
        ).all()
    )
