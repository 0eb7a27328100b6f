"""SQLModel tables; importing this package registers every table on the metadata."""

from bot.models.incident import Incident, IncidentStatus
from bot.models.sequence import DailySequence
from bot.models.task import ScheduledTask, TaskKind, TaskState
from bot.models.timeline import TimelineEvent, TimelineKind

__all__ = [
    "DailySequence",
    "Incident",
    "IncidentStatus",
    "ScheduledTask",
    "TaskKind",
    "TaskState",
    "TimelineEvent",
    "TimelineKind",
]
