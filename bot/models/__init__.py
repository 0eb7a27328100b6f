"""SQLModel tables; importing this package registers every table on the metadata."""

from bot.models.alert import (
    EVERY_SERVICE,
    AlertAction,
    AlertGroup,
    AlertRecord,
    AlertSilence,
    AlertSource,
    AlertState,
    IncidentAlert,
    MaintenanceWindow,
    SilenceState,
)
from bot.models.comms import (
    PublicUpdate,
    PublicUpdateState,
    StatusComponentImpact,
    StatusIncident,
    StatusIncidentUpdate,
    StatusMaintenance,
    StatusPageVersion,
)
from bot.models.inbox import InboxEvent, InboxState
from bot.models.incident import Incident, IncidentStatus
from bot.models.lifecycle import ImpactPeriod, RoleAssignment, StatusUpdate
from bot.models.process import (
    EXCLUDED_REASONS,
    ClosingReason,
    ReportRun,
    ReportState,
    SurveyResponse,
)
from bot.models.review import ActionItem, ActionState, PirDraft, ProcessHeartbeat
from bot.models.sequence import DailySequence
from bot.models.task import ScheduledTask, TaskKind, TaskState
from bot.models.timeline import MESSAGE_KINDS, AuditEntry, TimelineEvent, TimelineKind

__all__ = [
    "EVERY_SERVICE",
    "EXCLUDED_REASONS",
    "MESSAGE_KINDS",
    "ActionItem",
    "ActionState",
    "AlertAction",
    "AlertGroup",
    "AlertRecord",
    "AlertSilence",
    "AlertSource",
    "AlertState",
    "AuditEntry",
    "ClosingReason",
    "DailySequence",
    "ImpactPeriod",
    "InboxEvent",
    "InboxState",
    "Incident",
    "IncidentAlert",
    "IncidentStatus",
    "MaintenanceWindow",
    "PirDraft",
    "ProcessHeartbeat",
    "PublicUpdate",
    "PublicUpdateState",
    "ReportRun",
    "ReportState",
    "RoleAssignment",
    "ScheduledTask",
    "SilenceState",
    "StatusComponentImpact",
    "StatusIncident",
    "StatusIncidentUpdate",
    "StatusMaintenance",
    "StatusPageVersion",
    "StatusUpdate",
    "SurveyResponse",
    "TaskKind",
    "TaskState",
    "TimelineEvent",
    "TimelineKind",
]
