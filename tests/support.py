"""Helpers the reminder, privacy and concurrency tests share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.db import Database
from bot.models import Incident, ScheduledTask, TaskState, TimelineEvent, TimelineKind
from bot.policy import default_policy
from bot.scheduler import sweep
from bot.services.declaration import DeclareInput, declare
from tests.conftest import Harness, wait_for
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


def sweep_and_settle(bot: Harness, clock: ManualClock, moment: datetime) -> None:
    """Sweep at `moment` and wait for what it started (emails and pages on their pool)."""
    sweep_at(bot, clock, moment)
    assert bot.ctx.wait_idle()


def tasks_of(
    bot: Harness, incident: Incident, kind: str, *, key_prefix: str = "", key_contains: str = ""
) -> list[ScheduledTask]:
    """The incident's tasks of `kind` (whose key starts with or contains the given text),
    oldest first."""
    with bot.db.session() as session:
        return list(
            session.exec(
                select(ScheduledTask)
                .where(
                    ScheduledTask.incident_id == incident.id,
                    ScheduledTask.kind == kind,
                    col(ScheduledTask.key).startswith(key_prefix),
                    col(ScheduledTask.key).contains(key_contains),
                )
                .order_by(col(ScheduledTask.id))
            ).all()
        )


def resolve_by_form(bot: Harness, incident: Incident, **values: str) -> None:
    """Resolve through `/incident resolve` and its form (as alice), and wait until resolved."""
    assert incident.channel_id is not None
    view = form_opened(bot, bot.fake.alice, incident.channel_id, "resolve")  # type: ignore[attr-defined]
    answer = bot.submit(bot.fake.alice, view, {"resolution": "Rolled back", **values})  # type: ignore[attr-defined]
    assert answer.status == 200 and not (answer.json or {}).get("errors"), answer
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")


def run_command(bot: Harness, user: str, channel: str, text: str) -> None:
    """Send `/incident <text>` and check Slack got its acknowledgement."""
    assert bot.command(user, channel, text).status == 200


def form_opened(bot: Harness, user: str, channel: str, command: str) -> dict[str, Any]:
    """Run a command that opens a form, and return the form."""
    before = len(bot.fake.opened_views(user))
    run_command(bot, user, channel, command)
    return wait_for(lambda: bot.fake.opened_views(user)[before:] or None)[-1]


def reply_to(bot: Harness, user: str, channel: str, command: str) -> str:
    """Run a command and return the private reply the person gets."""
    assert bot.ctx.wait_idle()  # an earlier reply lands first
    before = len(bot.fake.responses)
    run_command(bot, user, channel, command)
    body = wait_for(lambda: bot.fake.responses[before:] or None)[0].body
    return str(body.get("text", ""))


def nags_in(fake: FakeSlack, channel: str) -> list[Any]:
    """The status-update nags in a channel."""
    return [m for m in reminders_in(fake, channel) if "status update" in m.text]


def seed_due_nags(db: Database, fake: FakeSlack, count: int, due: datetime) -> list[int]:
    """`count` incidents with channels and one nag each, due at `due`; nothing else due."""
    ids = []
    with db.session() as session:
        for index in range(count):
            incident = declare(
                session=session,
                data=DeclareInput(
                    title=f"load {index}",
                    severity="sev2",
                    category="software",
                    impact="low",
                    urgency="low",
                ),
                reporter_id=fake.alice,  # type: ignore[attr-defined]
                policy=default_policy(),
                now=due - timedelta(hours=1),
            )
            incident.channel_id = fake.add_channel(f"load-{index}", bot_member=True)
            incident.next_update_due_at = due
            incident.provisioned_at = due
            session.add(incident)
            assert incident.id is not None
            ids.append(incident.id)
        table = ScheduledTask.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table).where(table.c.kind != "nag").values(state=TaskState.CANCELLED)
        )
        session.execute(update(table).where(table.c.kind == "nag").values(due_at=due))
    return ids


def comms_entries(bot: Harness, incident: Incident) -> list[dict[str, Any]]:
    """The incident's `comms` timeline entries (emails, pages, stakeholder updates), in
    order: each entry's data with its text."""
    with bot.db.session() as session:
        rows = session.exec(
            select(TimelineEvent)
            .where(
                TimelineEvent.incident_id == incident.id,
                TimelineEvent.kind == TimelineKind.COMMS,
            )
            .order_by(col(TimelineEvent.id))
        ).all()
    return [{**row.data, "text": row.text} for row in rows]
