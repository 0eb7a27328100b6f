"""Alerts from monitoring: the inbox of received alerts, their grouping into incidents,
silences made in Alertmanager, maintenance windows, and each source's heartbeat."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.types import json_field, required_utc_field, utc_field

FINGERPRINT_MAX = 128
ALERT_TITLE_MAX = 300
LINK_MAX = 2000
EVERY_SERVICE = "*"  # among a maintenance window's services: every service


class AlertState(StrEnum):
    """Where a received alert is in its handling."""

    PENDING = "pending"  # stored; routing or its Slack post still to do
    DONE = "done"
    DEAD = "dead"  # set aside after repeated failures (its error kept)


class AlertAction(StrEnum):
    """What routing did with an alert."""

    DECLARED = "declared"  # declared a new incident
    ATTACHED = "attached"  # joined an open incident (its group, or the same alert again)
    TRIAGE = "triage"  # posted in the triage channel for a person to decide
    DROPPED = "dropped"  # a rule said drop: stored, nothing posted
    HEARTBEAT = "heartbeat"  # the source's proof of life
    RESOLVED = "resolved"  # a resolved notification of an alert no open incident holds


class AlertRecord(SQLModel, table=True):
    """One alert notification as received, stored before the sender gets its 2xx.

    Unique on source, fingerprint, start and status: a sender's retry of the same
    notification, or the same notification at two replicas, lands once.
    """

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint(
            "source", "fingerprint", "starts_at", "status", name="uq_alert_notification"
        ),
        Index("ix_alert_due", "state", "next_attempt_at"),
        Index("ix_alert_fingerprint", "source", "fingerprint"),
        Index("ix_alert_received", "state", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40)
    fingerprint: str = Field(max_length=FINGERPRINT_MAX)
    status: str = Field(max_length=16)  # firing or resolved
    starts_at: datetime = required_utc_field()
    ends_at: datetime | None = utc_field()
    name: str = Field(default="", max_length=200)  # alertname, or the generic title's key
    title: str = Field(default="", max_length=ALERT_TITLE_MAX)
    severity: str = Field(default="", max_length=40)
    service: str = Field(default="", max_length=200)
    link: str = Field(default="", max_length=LINK_MAX)
    labels: dict[str, Any] = json_field()
    annotations: dict[str, Any] = json_field()
    received_at: datetime = required_utc_field()

    state: str = Field(default=AlertState.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = utc_field()
    claim_token: str | None = Field(default=None, max_length=36)
    claimed_until: datetime | None = utc_field()
    last_error: str | None = Field(default=None, max_length=2000)

    # What routing decided (kept once decided, so a retry only redoes the Slack part).
    routed_at: datetime | None = utc_field()
    rule: str | None = Field(default=None, max_length=80)
    action: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", max_length=300)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # The triage message, once posted, and what a person did with it.
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    handled: dict[str, Any] = json_field()


class AlertGroup(SQLModel, table=True):
    """The open incident a rule's group of alerts (same `group_by` labels) goes to.

    Unique per rule and group: whichever replica inserts it first declares, the others
    wait on its row lock and attach.
    """

    __tablename__ = "alert_group"
    __table_args__ = (UniqueConstraint("rule", "group_key", name="uq_alert_group"),)

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=80)
    group_key: str = Field(max_length=64)  # a digest of the rule's group_by label values
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    last_alert_at: datetime | None = utc_field()
    created_at: datetime = required_utc_field()


class IncidentAlert(SQLModel, table=True):
    """An alert attached to an incident, with its latest status."""

    __tablename__ = "incident_alert"
    __table_args__ = (
        UniqueConstraint("incident_id", "source", "fingerprint", name="uq_incident_alert"),
        Index("ix_incident_alert_fingerprint", "source", "fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    source: str = Field(max_length=40)
    fingerprint: str = Field(max_length=FINGERPRINT_MAX)
    status: str = Field(max_length=16)
    name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=ALERT_TITLE_MAX)
    link: str = Field(default="", max_length=LINK_MAX)
    labels: dict[str, Any] = json_field()
    starts_at: datetime = required_utc_field()
    ends_at: datetime | None = utc_field()
    attached_at: datetime = required_utc_field()
    changed_at: datetime = required_utc_field()


class SilenceState(StrEnum):
    """A silence made in Alertmanager by the bot."""

    ACTIVE = "active"
    EXPIRED = "expired"  # deleted by the bot (the incident resolved) or run out


class AlertSilence(SQLModel, table=True):
    """A silence the bot created in a source's Alertmanager."""

    __tablename__ = "alert_silence"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40)
    silence_id: str = Field(max_length=64, index=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id")
    created_by: str = Field(max_length=32)
    matchers: dict[str, Any] = json_field()
    starts_at: datetime = required_utc_field()
    ends_at: datetime = required_utc_field()
    state: str = Field(default=SilenceState.ACTIVE, max_length=16)
    created_at: datetime = required_utc_field()
    expired_at: datetime | None = utc_field()


class MaintenanceWindow(SQLModel, table=True):
    """A time during which alerts of some services declare nothing (they go to triage)."""

    __tablename__ = "maintenance_window"
    __table_args__ = (Index("ix_maintenance_ends", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    services: dict[str, Any] = json_field()  # {"services": [...]}: EVERY_SERVICE for all
    starts_at: datetime = required_utc_field()
    ends_at: datetime = required_utc_field()
    reason: str = Field(default="", max_length=300)
    created_by: str = Field(max_length=32)
    created_at: datetime = required_utc_field()
    ended_early_at: datetime | None = utc_field()
    ended_by: str | None = Field(default=None, max_length=32)


class AlertSource(SQLModel, table=True):
    """A source's heartbeat: when it was last heard, and whether silence was reported."""

    __tablename__ = "alert_source"

    source: str = Field(primary_key=True, max_length=40)
    last_heartbeat_at: datetime | None = utc_field()
    silent_since: datetime | None = utc_field()  # set when silence was noticed
    warned_at: datetime | None = utc_field()  # when the announcement channel was told
    silent_incident_id: int | None = Field(default=None, foreign_key="incident.id")
    updated_at: datetime = required_utc_field()
