"""The incident timeline: everything that happened, in order, and who changed what."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field, utc_field


class TimelineKind(StrEnum):
    """Kinds of timeline entries."""

    DECLARED = "declared"
    SLACK_SETUP = "slack_setup"
    MESSAGE = "message"  # a person's message (thread replies too)
    BOT_MESSAGE = "bot_message"  # another app's message
    BOT_POST = "bot_post"  # this bot's own message
    FILE_SHARED = "file_shared"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    SYSTEM = "system"  # topic, purpose and other channel notices
    COMMAND = "command"
    NOTE = "note"
    STATUS_UPDATE = "status_update"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    PRIORITY_CHANGED = "priority_changed"
    ROLE_ASSIGNED = "role_assigned"
    HANDOFF = "handoff"
    IMPACT_STARTED = "impact_started"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    ACTION_ADDED = "action_added"  # a follow-up action was added
    ACTION_DONE = "action_done"  # a follow-up action was completed
    REMINDER = "reminder"  # a nag or an escalation ping the bot posted
    SNOOZED = "snoozed"
    REVIEW_HELD = "review_held"  # the post-incident review meeting took place
    SLACK_PROBLEM = "slack_problem"  # something a change owed Slack that Slack did not take
    ALERT = "alert"  # an alert from monitoring attached, firing again, or resolved
    SILENCE = "silence"  # a silence made in (or ended in) Alertmanager
    PUBLIC_UPDATE = "public_update"  # a status page update written, approved, published
    COMMS = "comms"  # an email, a page or a stakeholder update that went out (or gave up)


# Kinds that are Slack messages: one row per (channel, ts) whatever delivered them.
MESSAGE_KINDS = frozenset(
    {
        TimelineKind.MESSAGE,
        TimelineKind.BOT_MESSAGE,
        TimelineKind.BOT_POST,
        TimelineKind.FILE_SHARED,
        TimelineKind.MEMBER_JOINED,
        TimelineKind.MEMBER_LEFT,
        TimelineKind.SYSTEM,
    }
)


class TimelineEvent(SQLModel, table=True):
    """One timeline entry; `dedupe_key` makes repeated deliveries land once."""

    __tablename__ = "timeline_event"
    __table_args__ = (
        Index("ix_timeline_incident_at", "incident_id", "occurred_at"),
        Index("ix_timeline_channel_ts", "channel_id", "slack_ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    kind: str = Field(max_length=32)
    occurred_at: datetime = required_utc_field()
    actor_id: str | None = Field(default=None, max_length=32)
    text: str = Field(default="")
    data: dict[str, Any] = json_field()
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    # Slack messages: where they are, and what happened to them since.
    channel_id: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    is_key_event: bool = False
    edited_at: datetime | None = utc_field()
    deleted_at: datetime | None = utc_field()


class AuditEntry(SQLModel, table=True):
    """One change to one field of an incident: who, when, from what, to what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_incident_at", "incident_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime = required_utc_field()
    actor_id: str | None = Field(default=None, max_length=32)
    field: str = Field(max_length=40)
    old_value: str | None = None
    new_value: str | None = None
