"""Post-incident review drafts and the follow-up actions they produce."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Date, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.types import required_utc_field, utc_field


class PirDraft(SQLModel, table=True):
    """One generated version of an incident's review draft (Markdown)."""

    __tablename__ = "pir_draft"
    __table_args__ = (UniqueConstraint("incident_id", "version", name="uq_pir_version"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    version: int
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = required_utc_field()
    created_by: str | None = Field(default=None, max_length=32)
    file_id: str | None = Field(default=None, max_length=32)
    history_calls: int = 0
    template_error: str | None = Field(default=None, max_length=1000)


class ActionState(StrEnum):
    """A follow-up action's state."""

    OPEN = "open"
    DONE = "done"


class ActionItem(SQLModel, table=True):
    """A follow-up action: numbered per incident, optionally owned and due."""

    __tablename__ = "action_item"
    __table_args__ = (UniqueConstraint("incident_id", "number", name="uq_action_number"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    number: int
    text: str = Field(sa_column=Column(Text, nullable=False))  # kept whole; shown cut
    owner_id: str | None = Field(default=None, max_length=32)
    due_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    state: str = Field(default=ActionState.OPEN, max_length=8)
    created_at: datetime = required_utc_field()
    created_by: str = Field(max_length=32)
    done_at: datetime | None = utc_field()
    done_by: str | None = Field(default=None, max_length=32)


class ProcessHeartbeat(SQLModel, table=True):
    """A running bot process: when it started and when it was last seen alive.

    The stretches no process covered are when Slack events may have been missed; a review
    draft reads Slack's history for those stretches only.
    """

    __tablename__ = "process_heartbeat"

    id: str = Field(primary_key=True, max_length=36)
    started_at: datetime = required_utc_field()
    last_seen_at: datetime = required_utc_field(index=True)
