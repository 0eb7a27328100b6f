"""Outward communication: public updates as written and approved (internal), and what the
status page shows (public).

The `status_*` tables hold only what was published for everyone to read; the status page
reads nothing else, so no internal field of an incident can reach it by a template mistake.
They carry no incident ID, so not even the number of incidents (private ones included)
can be read from them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field, utc_field


class PublicUpdateState(StrEnum):
    """Where a public update stands."""

    PENDING = "pending"  # waiting for the approver
    PUBLISHED = "published"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # edited: a newer version replaced it before a decision


class PublicUpdate(SQLModel, table=True):
    """A public update as written in Slack: pending approval, published or rejected."""

    __tablename__ = "public_update"
    __table_args__ = (Index("ix_public_update_incident", "incident_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    state: str = Field(default=PublicUpdateState.PENDING, max_length=16)
    status: str = Field(max_length=16)  # investigating, identified, monitoring, resolved
    title: str = Field(max_length=255)
    message: str = Field(default="")
    components: dict[str, Any] = json_field()  # {component name: state}
    author_id: str = Field(max_length=32)
    approver_id: str | None = Field(default=None, max_length=32)  # who must decide
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = utc_field()
    reason: str | None = Field(default=None, max_length=500)  # why it was rejected
    replaces_id: int | None = Field(default=None, foreign_key="public_update.id")
    # The approval request in Slack (edited in place once decided).
    approval_channel: str | None = Field(default=None, max_length=32)
    approval_ts: str | None = Field(default=None, max_length=32)
    status_incident_id: int | None = Field(default=None, foreign_key="status_incident.id")
    published_at: datetime | None = utc_field()
    created_at: datetime = required_utc_field()
    updated_at: datetime = required_utc_field()


class StatusIncident(SQLModel, table=True):
    """A public incident on the status page (published data only)."""

    __tablename__ = "status_incident"
    __table_args__ = (Index("ix_status_incident_started", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=16, unique=True)  # random: counts nothing
    title: str = Field(max_length=255)
    status: str = Field(max_length=16)
    impact: str = Field(default="none", max_length=16)  # none, minor, major, critical
    started_at: datetime = required_utc_field()
    updated_at: datetime = required_utc_field()
    resolved_at: datetime | None = utc_field(index=True)


class StatusIncidentUpdate(SQLModel, table=True):
    """One published update of a public incident (newest first on the page and the feed)."""

    __tablename__ = "status_incident_update"
    __table_args__ = (
        Index("ix_status_update_incident", "status_incident_id", "published_at"),
        Index("ix_status_update_published", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status_incident_id: int = Field(foreign_key="status_incident.id")
    status: str = Field(max_length=16)
    body: str = Field(default="")
    components: dict[str, Any] = json_field()  # {component name: state}
    published_at: datetime = required_utc_field()


class StatusComponentImpact(SQLModel, table=True):
    """A stretch of time a component was not operational (the 90-day history)."""

    __tablename__ = "status_component_impact"
    __table_args__ = (Index("ix_status_impact_component", "component", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    component: str = Field(max_length=60)
    state: str = Field(max_length=24)
    status_incident_id: int | None = Field(default=None, foreign_key="status_incident.id")
    status_maintenance_id: int | None = Field(default=None, foreign_key="status_maintenance.id")
    started_at: datetime = required_utc_field()
    ended_at: datetime | None = utc_field()


class StatusPageVersion(SQLModel, table=True):
    """One row counting the commits that changed published data, across replicas: the
    status page reads it every second and reads (and renders) the rest only when it moved
    (or the minute did: outage minutes and uptime grow while an impact lasts)."""

    __tablename__ = "status_page_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0


class StatusMaintenance(SQLModel, table=True):
    """Scheduled maintenance as announced on the status page."""

    __tablename__ = "status_maintenance"
    __table_args__ = (Index("ix_status_maintenance_ends", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=16, unique=True)
    title: str = Field(max_length=255)
    body: str = Field(default="")
    components: dict[str, Any] = json_field()  # {"components": [names]}
    starts_at: datetime = required_utc_field()
    ends_at: datetime = required_utc_field()
    cancelled_at: datetime | None = utc_field()
    published_at: datetime = required_utc_field()
    # The internal window it announces (never shown; lets ending the window end it here).
    window_id: int | None = Field(default=None, foreign_key="maintenance_window.id")
