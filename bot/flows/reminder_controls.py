"""What people do with reminders: list them, snooze a nag, answer one with an update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.context import Context
from bot.errors import UserError
from bot.flows import effect_delivery, incident_changes, incident_commands
from bot.models import Incident, ScheduledTask, TaskKind, TimelineKind
from bot.render import render
from bot.services import incident_queries, reminder_rules, timeline_entries

LABELS = {
    TaskKind.NAG: "status update reminder",
    TaskKind.RESPONSE: "response target check",
    TaskKind.ESCALATION: "escalation",
    TaskKind.RESOLUTION: "resolution target check",
    TaskKind.STALE: "inactivity check",
    TaskKind.PIR_REVIEW: "review reminder",
    TaskKind.ACTION_OVERDUE: "overdue action reminder",
}


@dataclass(frozen=True)
class Row:
    """One scheduled reminder as `/incident reminders` lists it."""

    label: str
    due: datetime


def _label(ctx: Context, task: ScheduledTask) -> str:
    label = LABELS.get(TaskKind(task.kind), task.kind)
    if task.kind == TaskKind.ESCALATION:
        step = reminder_rules.escalation_step(task, ctx.policy)
        if step is not None:
            label += " to " + ", ".join(n.replace("_", " ") for n in step.notify)
    return label


def listing(ctx: Context, channel_id: str) -> str:
    """What is scheduled for the incident of this channel, and what was sent."""
    with ctx.db.session() as session:
        incident = incident_queries.require_by_channel(session, channel_id)
        rows = [
            Row(label=_label(ctx, task), due=task.due_at)
            for task in reminder_rules.pending(session, incident)
        ]
        counts = reminder_rules.sent_counts(session, incident)
    readable = {
        LABELS.get(TaskKind(kind), kind) + "s": n for kind, n in counts.items() if kind in LABELS
    }
    return render("reminders_list.j2", incident=incident, rows=rows, counts=readable)


def incident_of_task(ctx: Context, task_id: int) -> Incident:
    """The incident a reminder belongs to (refused once the reminder is gone)."""
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, task_id)
        incident = session.get(Incident, task.incident_id) if task is not None else None
    if incident is None:
        raise UserError("That reminder is not valid any more.")
    return incident


def open_update_form(ctx: Context, task_id: int, trigger_id: str) -> None:
    """*Post update* on a nag: the status update form of its incident."""
    incident = incident_of_task(ctx, task_id)
    incident_commands.open_update_form_for(ctx, incident, trigger_id)


def snooze(ctx: Context, task_id: int, seconds: int, actor: str) -> None:
    """*Snooze* on a nag: put the next one off, record it, and say so in the channel."""
    allowed = {int(option.total_seconds()) for option in ctx.policy.snooze_options}
    if seconds not in allowed:
        raise UserError("That snooze is not offered any more.")
    incident = incident_of_task(ctx, task_id)
    assert incident.id is not None
    now = ctx.clock.now()

    def apply(session: Session, fresh: Incident) -> datetime:
        due = reminder_rules.snooze(session, fresh, task_id, timedelta(seconds=seconds), now)
        assert fresh.id is not None
        timeline_entries.record(
            session,
            fresh.id,
            TimelineKind.SNOOZED,
            now=now,
            actor=actor,
            text=f"Update reminder snoozed until {due.isoformat()}",
            data={"task": task_id, "until": due.isoformat()},
        )
        return due

    def show(session: Session, updated: Incident, due: datetime, at: datetime) -> list[int]:
        text = render("snoozed.j2", actor=actor, incident=updated, due=due)
        return incident_changes.echo(session, updated, text, at)

    changed = incident_changes.change(ctx, incident.id, apply, show)
    effect_delivery.deliver(ctx, changed.effects)
