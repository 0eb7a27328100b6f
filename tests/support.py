"""Helpers the reminder, privacy and concurrency tests share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.clock import ManualClock
from bot.models import Incident, ScheduledTask, TaskState
from bot.scheduler import sweep
from tests.conftest import Harness
from tests.fakeslack import FakeSlack


def reminders_in(fake: FakeSlack, channel: str, kind: str | None = None) -> list[Any]:
    """The bot's reminder posts in a conversation (containing `kind`, when given)."""
    found = []
    for message in fake.messages(channel, system=False):
        metadata = message.metadata or {}
        if metadata.get("event_type") != "incident_reminder":
            continue
        if kind is None or kind in message.text:
            found.append(message)
    return found


def pending_tasks(bot: Harness, incident: Incident, kind: str) -> list[ScheduledTask]:
    """An incident's pending tasks of one kind, soonest first."""
    with bot.db.session() as session:
        return list(
            session.exec(
                select(ScheduledTask)
                .where(
                    ScheduledTask.incident_id == incident.id,
                    ScheduledTask.kind == kind,
                    ScheduledTask.state == TaskState.PENDING,
                )
                .order_by(col(ScheduledTask.due_at))
            ).all()
        )


def sweep_at(bot: Harness, clock: ManualClock, moment: datetime) -> None:
    """Set the clock and sweep once."""
    clock.set(moment)
    sweep(bot.ctx)


def run_command(bot: Harness, user: str, channel: str, text: str) -> None:
    """Send `/incident <text>` and check Slack got its acknowledgement."""
    assert bot.command(user, channel, text).status == 200


def nags_in(fake: FakeSlack, channel: str) -> list[Any]:
    """The status-update nags in a channel."""
    return [m for m in reminders_in(fake, channel) if "status update" in m.text]
