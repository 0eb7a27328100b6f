"""The event inbox: every Slack event is written here before it is acknowledged."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field, utc_field


class InboxState(StrEnum):
    """Processing state of an inbox row."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"
    # An event of a channel that is no incident's (yet): kept a while in case the channel
    # becomes one (another replica may be creating it right now), then forgotten.
    UNMATCHED = "unmatched"


class InboxEvent(SQLModel, table=True):
    """One delivered Slack event, unique by Slack's event_id across retries and replicas."""

    __tablename__ = "event_inbox"
    __table_args__ = (
        Index("ix_inbox_due", "state", "next_attempt_at"),
        Index("ix_inbox_received", "state", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=64)
    channel_id: str | None = Field(default=None, max_length=32)
    received_at: datetime = required_utc_field()
    payload: dict[str, Any] = json_field()
    state: str = Field(default=InboxState.PENDING, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    next_attempt_at: datetime | None = utc_field()
    claim_token: str | None = Field(default=None, max_length=36)
    claimed_until: datetime | None = utc_field()
