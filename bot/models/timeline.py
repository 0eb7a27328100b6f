"""The incident timeline: everything that happened, in order."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field


class TimelineKind(StrEnum):
    """Kinds of timeline entries."""

    DECLARED = "declared"
    SLACK_SETUP = "slack_setup"


class TimelineEvent(SQLModel, table=True):
    """One timeline entry; `dedupe_key` makes repeated deliveries land once."""

    __tablename__ = "timeline_event"
    __table_args__ = (Index("ix_timeline_incident_at", "incident_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    kind: str = Field(max_length=32)
    occurred_at: datetime = required_utc_field()
    actor_id: str | None = Field(default=None, max_length=32)
    text: str = Field(default="")
    data: dict[str, Any] = json_field()
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
