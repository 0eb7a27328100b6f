"""Every callback_id, action_id and block_id the bot uses, in one place."""

from __future__ import annotations

from enum import StrEnum


class CallbackId(StrEnum):
    """Modal callback IDs."""

    DECLARE = "incident_declare"
    UPDATE = "incident_update"
    RESOLVE = "incident_resolve"
    HANDOFF = "incident_handoff"
    ALERT_ATTACH = "alert_attach"
    CLOSE = "incident_close"
    SURVEY_COMMENT = "incident_survey_comment"
    PUBLIC_UPDATE = "incident_public_update"


class ActionId(StrEnum):
    """Interactive element action IDs."""

    VALUE = "value"
    RETRY_SETUP = "incident_retry_setup"
    NAG_UPDATE = "incident_nag_update"
    NAG_SNOOZE = "incident_nag_snooze"
    ALERT_DECLARE = "alert_declare"
    ALERT_ATTACH = "alert_attach"
    ALERT_SILENCE = "alert_silence"
    ALERT_IGNORE = "alert_ignore"
    ALERTS_RESOLVE = "alerts_resolve"
    SURVEY_RATE = "survey_rate"
    SURVEY_COMMENT = "survey_comment"
    PUBLIC_APPROVE = "public_update_approve"
    PUBLIC_EDIT = "public_update_edit"
    PUBLIC_REJECT = "public_update_reject"
    PUBLIC_WRITE = "public_update_write"  # open the form (the "resolved" offer)


class BlockId(StrEnum):
    """Block IDs; modal input blocks are named after the field they hold."""

    TITLE = "title"
    DESCRIPTION = "description"
    SEVERITY = "severity"
    CATEGORY = "category"
    IMPACT = "impact"
    URGENCY = "urgency"
    AFFECTED_SERVICES = "affected_services"
    PRIVATE = "is_private"
    SUMMARY = "summary"
    ACTIONS = "actions"
    STATUS = "status"
    WHAT_CHANGED = "what_changed"
    CURRENT_IMPACT = "current_impact"
    NEXT_STEPS = "next_steps"
    NEXT_UPDATE = "next_update"
    RESOLUTION = "resolution"
    ROOT_CAUSE = "root_cause"
    IMPACT_SUMMARY = "impact_summary"
    KNOWN = "known"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    INCIDENT = "incident"
    ALERT_BOARD = "alert_board"
    ROOT_CAUSE_CATEGORY = "root_cause_category"
    CLOSING_REASON = "closing_reason"
    COMMENT = "comment"
    PUBLIC_STATUS = "public_status"
    PUBLIC_TITLE = "public_title"
    PUBLIC_MESSAGE = "public_message"
    COMPONENTS = "components"
    COMPONENT_STATE = "component_state"


class MetadataType(StrEnum):
    """Message metadata event types the bot stamps on its own posts."""

    SUMMARY = "incident_summary"
    ANNOUNCEMENT = "incident_announcement"
    CONFIRMATION = "incident_confirmation"
    UPDATE = "incident_status_update"
    NOTICE = "incident_notice"
    REMINDER = "incident_reminder"
    ALERT_TRIAGE = "alert_triage"
    ALERT_BOARD = "incident_alert_board"
    ALERTS_RESOLVED = "incident_alerts_resolved"
    MONITORING = "monitoring_heartbeat"
    REPORT = "incident_process_report"
    SURVEY = "incident_survey"
    PUBLIC_APPROVAL = "incident_public_update_approval"


COMMAND = "/incident"
