"""Who held which role, the structured status updates, and the impact periods."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from bot.models.incident import DESCRIPTION_MAX
from bot.models.types import required_utc_field, utc_field


class RoleAssignment(SQLModel, table=True):
    """A person holding a role on an incident, from `assigned_at` until `ended_at`."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        Index("ix_role_incident_role", "incident_id", "role"),
        # At most one active holder per role, whatever two replicas do at once.
        Index(
            "uq_role_active",
            "incident_id",
            "role",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    role: str = Field(max_length=40)
    user_id: str = Field(max_length=32)
    assigned_by: str | None = Field(default=None, max_length=32)
    assigned_at: datetime = required_utc_field()
    ended_at: datetime | None = utc_field()


class StatusUpdate(SQLModel, table=True):
    """A structured status update as posted in the channel."""

    __tablename__ = "status_update"
    __table_args__ = (Index("ix_update_incident_at", "incident_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    author_id: str = Field(max_length=32)
    status: str = Field(max_length=20)
    what_changed: str = Field(default="", max_length=DESCRIPTION_MAX)
    impact: str = Field(default="", max_length=DESCRIPTION_MAX)
    next_steps: str = Field(default="", max_length=DESCRIPTION_MAX)
    created_at: datetime = required_utc_field()
    next_update_at: datetime | None = utc_field()
    channel_ts: str | None = Field(default=None, max_length=32)


class ImpactPeriod(SQLModel, table=True):
    """A stretch of customer impact; a reopened incident gets a new one."""

    __tablename__ = "impact_period"
    __table_args__ = (Index("ix_impact_incident", "incident_id", "ordinal"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    ordinal: int = 1
    started_at: datetime = required_utc_field()
    ended_at: datetime | None = utc_field()
