"""The nag's buttons (post an update, snooze) and `/incident reminders`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import blocks
from bot.command_registry import Invocation
from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_posts as show
from bot.handlers import listener_replies
from bot.ids import ActionId
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
class _Row:
    label: str
    due: datetime


def _label(ctx: Context, incident: Incident, task: ScheduledTask) -> str:
    label = LABELS.get(TaskKind(task.kind), task.kind)
    if task.kind == TaskKind.ESCALATION:
        parts = task.key.split(":")
        severity = ctx.policy.severities.get(parts[1]) if len(parts) == 3 else None
        if severity is not None and parts[2].isdigit() and int(parts[2]) < len(severity.escalation):
            step = severity.escalation[int(parts[2])]
            label += " to " + ", ".join(n.replace("_", " ") for n in step.notify)
    return label


def run_reminders(ctx: Context, invocation: Invocation) -> None:
    """`reminders`: what is scheduled for this incident, and what was sent."""
    with ctx.db.session() as session:
        incident = incident_queries.require_by_channel(session, invocation.channel_id)
        rows = [
            _Row(label=_label(ctx, incident, task), due=task.due_at)
            for task in reminder_rules.pending(session, incident)
        ]
        counts = reminder_rules.sent_counts(session, incident)
    readable = {
        LABELS.get(TaskKind(kind), kind) + "s": n for kind, n in counts.items() if kind in LABELS
    }
    invocation.respond(render("reminders_list.j2", incident=incident, rows=rows, counts=readable))


def _value(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    try:
        value = json.loads(actions[0].get("value") or "{}")
    except ValueError:
        value = {}
    if not isinstance(value, dict) or not isinstance(value.get("task"), int):
        raise UserError("That button is not valid any more.")
    return value


def _incident_of_task(ctx: Context, task_id: int) -> Incident:
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, task_id)
        incident = session.get(Incident, task.incident_id) if task is not None else None
    if incident is None:
        raise UserError("That reminder is not valid any more.")
    return incident


def register(app: App, ctx: Context) -> None:
    """Listen for the nag's buttons."""

    def handle_nag_update_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        incident = _incident_of_task(ctx, _value(body)["task"])
        if not incident.is_open:
            raise UserError(f"{incident.reference} is {incident.status}: no update is due.")
        view = blocks.update_modal(incident, ctx.policy).to_dict()
        trigger = str(body.get("trigger_id") or "")
        listener_replies.defer(ctx, body, lambda: listener_replies.open_modal(ctx, trigger, view))

    def handle_nag_snooze_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        value = _value(body)
        seconds = value.get("seconds")
        allowed = {int(option.total_seconds()) for option in ctx.policy.snooze_options}
        if seconds not in allowed:
            raise UserError("That snooze is not offered any more.")
        user = str((body.get("user") or {}).get("id") or "")
        incident = _incident_of_task(ctx, value["task"])
        assert incident.id is not None
        now = ctx.clock.now()
        with ctx.db.session() as session:
            fresh = session.get(Incident, incident.id)
            assert fresh is not None
            due = reminder_rules.snooze(
                session, fresh, value["task"], timedelta(seconds=seconds), now
            )
            timeline_entries.record(
                session,
                incident.id,
                TimelineKind.SNOOZED,
                now=now,
                actor=user,
                text=f"Update reminder snoozed until {due.isoformat()}",
                data={"task": value["task"], "until": due.isoformat()},
            )
        text = render("snoozed.j2", actor=user, incident=incident, due=due)
        listener_replies.defer(ctx, body, lambda: show.post_and_sync(ctx, incident.id or 0, text))

    app.action(ActionId.NAG_UPDATE)(handle_nag_update_action)
    app.action(re.compile(rf"^{ActionId.NAG_SNOOZE}:\d+$"))(handle_nag_snooze_action)
