"""Scheduled work: a row per due action; the scheduler only claims due rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field, utc_field


class TaskKind(StrEnum):
    """What a scheduled task does when it falls due."""

    PROVISION = "provision"
    NAG = "nag"  # a status update is overdue
    RESPONSE = "response"  # nobody took the incident within the response target
    ESCALATION = "escalation"  # a step of the severity's escalation matrix
    RESOLUTION = "resolution"  # the resolution target passed unresolved
    STALE = "stale"  # no activity for a long time
    PIR = "pir"  # generating the review draft (the claim makes it one at a time)
    PIR_REVIEW = "pir_review"  # hold the review within 5 business days
    ACTION_OVERDUE = "action_overdue"  # a follow-up action is past its due date
    ROLE_INVITE = "role_invite"  # adding a new role holder to the channel
    SLACK_POST = "slack_post"  # a post a committed change owes Slack (channel, thread, DM)
    SLACK_REFRESH = "slack_refresh"  # summary, topic and announcement shown as they are now
    ALERT_BOARD = "alert_board"  # the channel's list of attached alerts, edited in place
    SILENCE_EXPIRE = "silence_expire"  # end the incident's Alertmanager silences (resolved)
    # While an incident's alerts are silenced, Alertmanager sends no resolved notification
    # for them either: ask it which are still there.
    SILENCED_CHECK = "silenced_check"
    SURVEY = "survey"  # the post-incident survey's direct message to one person (closed)
    EMAIL = "email"  # one email (declare, an escalation step, a stakeholder update)
    PAGE = "page"  # one PagerDuty event: trigger, acknowledge or resolve
    STAKEHOLDER = "stakeholder"  # a stakeholder group's update, again at its cadence


class TaskState(StrEnum):
    """A task's state: pending until done or given up on."""

    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"
    DEAD = "dead"


class ScheduledTask(SQLModel, table=True):
    """One due action for an incident, claimed with a lease by whichever process sweeps."""

    __tablename__ = "scheduled_task"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "key", name="uq_task_incident_kind_key"),
        Index("ix_task_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str = Field(max_length=32)
    key: str = Field(default="", max_length=64)
    state: str = Field(default=TaskState.PENDING, max_length=16)
    due_at: datetime = required_utc_field()
    claim_token: str | None = Field(default=None, max_length=36)
    claimed_until: datetime | None = utc_field()
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    # What the task posted: the main message, and every destination it reached (so a
    # retry after a crash never posts to one twice).
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = utc_field()
    data: dict[str, Any] = json_field()
    created_at: datetime = required_utc_field()
    updated_at: datetime = required_utc_field()
