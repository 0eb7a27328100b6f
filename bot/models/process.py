"""Measuring the process: post-incident survey answers, and scheduled report runs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.types import required_utc_field, utc_field


class ClosingReason(StrEnum):
    """Why an incident was closed; all but RESOLVED are left out of MTTx and SLA figures."""

    RESOLVED = "resolved"  # a real incident, resolved
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"
    PLANNED_MAINTENANCE = "planned_maintenance"
    TEST = "test"


EXCLUDED_REASONS = (
    ClosingReason.FALSE_POSITIVE,
    ClosingReason.DUPLICATE,
    ClosingReason.PLANNED_MAINTENANCE,
    ClosingReason.TEST,
)


class SurveyResponse(SQLModel, table=True):
    """The post-incident survey sent to one person on close, and their answer."""

    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("incident_id", "user_id", name="uq_survey_person"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    user_id: str = Field(max_length=32)
    role: str = Field(max_length=40)  # reporter, business_liaison
    rating: int | None = None  # 1 to 5
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    sent_at: datetime = required_utc_field()
    answered_at: datetime | None = utc_field()


class ReportState(StrEnum):
    """A scheduled report's run for one period."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class ReportRun(SQLModel, table=True):
    """One scheduled report for one period: unique, so it is posted once across restarts
    and replicas; claimed with a lease while it is being made."""

    __tablename__ = "report_run"
    __table_args__ = (UniqueConstraint("report", "period_key", name="uq_report_period"),)

    id: int | None = Field(default=None, primary_key=True)
    report: str = Field(max_length=80)
    period_key: str = Field(max_length=40)
    period_start: datetime = required_utc_field()
    period_end: datetime = required_utc_field()
    state: str = Field(default=ReportState.PENDING, max_length=16)
    attempts: int = 0
    claim_token: str | None = Field(default=None, max_length=36)
    claimed_until: datetime | None = utc_field()
    next_attempt_at: datetime | None = utc_field()
    last_error: str | None = Field(default=None, max_length=1000)
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = required_utc_field()
    done_at: datetime | None = utc_field()
