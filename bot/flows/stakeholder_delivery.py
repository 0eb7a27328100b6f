"""Delivering a due stakeholder update exactly once, and arming the next one.

The posts go out through the reminders' machinery (`reminder_delivery.post_each`: claim
renewed before each post, progress kept, message metadata looked for on a retry, so two
sweepers or a crash after posting never post twice). Then, in one transaction under the
incident's row lock and only while the claim holds: the task is marked done, the update is
put on the timeline (kind `comms`, skipped ones too), its email is handed to an `email`
task (whose runner puts the email's own outcome on the timeline), the digest of what was
sent is kept, and the next occurrence is armed while the stakeholder still follows the
incident.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from bot.context import Context
from bot.flows import reminder_delivery, stakeholder_plans
from bot.models import Incident, ScheduledTask, TaskKind
from bot.services import incident_queries, stakeholder_rules, task_schedule, tasks, timeline_entries
from bot.slack import targets as slack_targets
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def run_claimed(ctx: Context, claim: tasks.Claim) -> None:
    """Send one claimed stakeholder update (or skip it when nothing changed)."""
    now = ctx.clock.now()
    loaded = tasks.load(ctx.db, claim)
    if loaded is None:
        return
    task, incident = loaded
    label = f"the {task.key.replace('_', ' ')} stakeholder update"
    try:
        decided = stakeholder_plans.plan(ctx, incident, task, now)
    except SlackCallFailed as exc:
        reminder_delivery.give_back(ctx, claim, exc, now, label=label)
        return
    delivered: dict[str, list[str]] = {}
    if decided.posts:
        reached = reminder_delivery.post_each(
            ctx, claim, incident, task, decided.posts, now=now, label=label, always_tell=True
        )
        if reached is None:
            return
        delivered = reached
    for group, refusal in decided.refused:  # told once per task (report_refused)
        reminder_delivery.report_refused(
            ctx, incident, task, group, refusal, told=True, label=label
        )
    if len(delivered) > len(task.data.get("delivered") or {}):
        ctx.metrics.reminders_sent.labels(kind=claim.kind).inc()
    _finish(ctx, claim, incident, decided, delivered, now)


def _record(
    session: Session, row: ScheduledTask, via: str, to: list[str], outcome: str, now: datetime
) -> None:
    name = row.key.replace("_", " ")
    timeline_entries.record_comms(
        session,
        row,
        via=via,
        to=to,
        what=f"stakeholder:{row.key}",
        outcome=outcome,
        text=f"Stakeholder update for {name} {outcome} ({via})",
        now=now,
    )


def _hand_over_email(
    session: Session,
    incident_id: int,
    row: ScheduledTask,
    email: stakeholder_plans.Email,
    now: datetime,
) -> None:
    """An `email` task for the update (the email runner sends it), made once."""
    armed = task_schedule.try_arm(
        session=session,
        incident_id=incident_id,
        kind=TaskKind.EMAIL,
        key=f"stakeholder:{row.key}:{int(row.data.get('occurrence', 0)) + 1}",
        due_at=now,
        now=now,
        once=True,
        if_not_pending=True,
    )
    if armed is None:
        return  # handed over already
    armed.data = {
        "to": list(email.to),
        "targets": [],
        "subject": email.subject,
        "text": email.text,
        "html": email.html,
        "what": f"stakeholder:{row.key}",
    }
    session.add(armed)


def _finish(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    decided: stakeholder_plans.StakeholderPlan,
    delivered: dict[str, list[str]],
    now: datetime,
) -> None:
    assert incident.id is not None
    with ctx.db.session() as session:
        # The incident's row lock orders this with a change that starts or stops updates.
        fresh = incident_queries.lock(session, incident.id)
        if not tasks.complete(session=session, claim=claim, now=now):
            return  # another sweeper took it over; it will finish the job
        row = session.get(ScheduledTask, claim.task_id)
        stakeholder = decided.stakeholder
        if row is None or stakeholder is None:
            return  # it no longer follows this incident: done, not armed again
        if decided.skipped:
            # Where it would have gone: the targets, contacts as their IDs (unset ones left out).
            slack = slack_targets.resolved(ctx.policy.contacts, stakeholder.targets)
            if slack:
                _record(session, row, "slack", slack, "skipped", now)
            if stakeholder.email:
                _record(session, row, "email", list(stakeholder.email), "skipped", now)
        else:
            if delivered:
                first = next(iter(delivered.values()))
                row.slack_channel, row.slack_ts = first[0], first[1]
                row.sent_at = now
                to = [key.split(":", 1)[1] for key in delivered]
                _record(session, row, "slack", to, "sent", now)
            if decided.email is not None:
                # The email runner puts its outcome (sent, or why not) on the timeline.
                _hand_over_email(session, incident.id, row, decided.email, now)
            # (User groups Slack would not list are on the timeline, told once per task.)
            row.data = {**row.data, "digest": decided.digest}
            session.add(row)
        if not stakeholder_rules.follows(stakeholder, fresh.severity):
            return
        if fresh.is_open:
            due = stakeholder_rules.next_due(row, stakeholder.every, now)
            stakeholder_rules.arm_next(session, fresh, row.key, due, now)
        elif not decided.final and stakeholder_rules.has_heard(row):
            # Resolved while this update was on its way: the last one follows at once.
            stakeholder_rules.arm_next(session, fresh, row.key, now, now)


def catch_up(ctx: Context) -> int:
    """Start the stakeholders the policy has gained on every open incident (run once when
    the process starts: a policy change takes effect without waiting for a severity change).
    Each incident under its row lock, so replicas starting together arm each update once.
    Returns how many incidents were looked at."""
    now = ctx.clock.now()
    if not ctx.policy.stakeholders:
        return 0
    with ctx.db.session() as session:
        ids = [i.id for i in incident_queries.list_open(session) if i.id is not None]
    for incident_id in ids:
        with ctx.db.session() as session:
            fresh = incident_queries.lock(session, incident_id)
            if fresh.is_open:
                stakeholder_rules.catch_up(session, fresh, ctx.policy, now)
    return len(ids)
