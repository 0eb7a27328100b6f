"""The incident aggregate: what happened, its lifecycle, and where it lives in Slack."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field, utc_field

TITLE_MAX = 150
DESCRIPTION_MAX = 3000
SERVICES_MAX = 500


class IncidentStatus(StrEnum):
    """Lifecycle states, in order."""

    REPORTED = "reported"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"


STATUS_ORDER = list(IncidentStatus)
OPEN_STATES = STATUS_ORDER[:4]


class IncidentBase(SQLModel):
    """The fields a person provides when declaring, validated."""

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    severity: str = Field(max_length=20)
    category: str = Field(max_length=40)
    impact: str = Field(max_length=10)
    urgency: str = Field(max_length=10)
    affected_services: str = Field(default="", max_length=SERVICES_MAX)
    is_private: bool = False

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the title cannot be blank")
        return value


class Incident(IncidentBase, table=True):
    """One incident row."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, unique=True, index=True)
    priority: str = Field(max_length=4)
    status: str = Field(default=IncidentStatus.REPORTED, max_length=20, index=True)
    reporter_id: str = Field(max_length=32)
    commander_id: str | None = Field(default=None, max_length=32)
    declared_in_channel: str | None = Field(default=None, max_length=32)
    # Who declared it when no person did: `alerts:<source>` (monitoring) or `cli`.
    declared_via: str | None = Field(default=None, max_length=48)

    # What the people running the incident wrote down.
    root_cause: str = Field(default="", max_length=DESCRIPTION_MAX)
    resolution: str = Field(default="", max_length=DESCRIPTION_MAX)
    impact_summary: str = Field(default="", max_length=DESCRIPTION_MAX)
    root_cause_category: str | None = Field(default=None, max_length=40)
    # Why it was closed (`ClosingReason`); None on rows closed before reasons existed.
    closing_reason: str | None = Field(default=None, max_length=32)

    declared_at: datetime = required_utc_field(index=True)  # reports scan by period
    impact_started_at: datetime | None = utc_field()
    acknowledged_at: datetime | None = utc_field()
    identified_at: datetime | None = utc_field()
    mitigated_at: datetime | None = utc_field()
    resolved_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()
    review_held_at: datetime | None = utc_field()  # the post-incident review meeting
    updated_at: datetime = required_utc_field()
    # Counts the changes made through `/incident` and its forms: a refresh of the summary,
    # topic and announcement knows whether it showed the latest one.
    revision: int = 0
    last_update_at: datetime | None = utc_field()
    next_update_due_at: datetime | None = utc_field()

    # Where the incident lives in Slack; each is filled once its provisioning step is done.
    channel_id: str | None = Field(default=None, max_length=32, unique=True)
    channel_name: str | None = Field(default=None, max_length=80)
    reporter_invited: bool = False
    topic: str | None = Field(default=None, max_length=250)
    summary_ts: str | None = Field(default=None, max_length=32)
    summary_pinned: bool = False
    announcement_channel_id: str | None = Field(default=None, max_length=32)
    announcement_ts: str | None = Field(default=None, max_length=32)
    confirmation_sent: bool = False
    # Set when the reporter has been told that part of the set-up failed.
    failure_notice_sent: bool = False
    # Set-up steps the scheduler no longer retries, by step: {"error", "method", "gave_up",
    # "told"}. Slack refused them for good, or kept failing past the last attempt.
    setup_problems: dict[str, Any] = json_field()
    # How many times *Retry now* restarted a finished set-up (each round reports anew).
    setup_round: int = 0
    # When the set-up finished: every step done or recorded in `setup_problems`.
    provisioned_at: datetime | None = utc_field()

    @property
    def is_open(self) -> bool:
        """Whether the incident is neither resolved nor closed."""
        return self.status not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
