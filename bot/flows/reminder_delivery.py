"""Posting a due reminder exactly once: nags, response and resolution pings, escalations.

A claimed reminder posts outside any transaction, renews its claim before each post and
is marked sent only while its claim holds. Every post carries message metadata naming the
reminder and its occurrence; a reminder claimed again after its holder died first looks
for that metadata in each destination and never posts to one twice. A 429 gives the claim
back with the due time moved by Retry-After. What each reminder says, and to whom, is
`reminder_plans.plan`'s to decide.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.context import Context
from bot.flows import incident_posts, reminder_plans
from bot.ids import MetadataType
from bot.models import (
    Incident,
    ScheduledTask,
    TaskKind,
    TimelineKind,
)
from bot.services import (
    incident_queries,
    reminder_rules,
    tasks,
    timeline_entries,
)
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def _deliver(
    ctx: Context,
    incident: Incident,
    task: ScheduledTask,
    post: reminder_plans.Post,
    *,
    look_first: bool,
) -> tuple[str, str]:
    """Post one destination, unless an earlier holder of this reminder already did."""
    occurrence = int(task.data.get("occurrence", 0))
    return incident_posts.post_once(
        ctx,
        post.destination,
        text=post.text,
        blocks_=post.blocks,
        event_type=str(MetadataType.REMINDER),
        payload={
            "reference": incident.reference,
            "task": task.id,
            "key": post.key,
            "occurrence": occurrence,
        },
        look_first=look_first,
        since=task.due_at,
    )


def run_claimed(ctx: Context, claim: tasks.Claim) -> None:
    """Fire one claimed reminder."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, claim.task_id)
        incident = session.get(Incident, claim.incident_id)
    if task is None or incident is None:
        return
    try:
        decided = reminder_plans.plan(ctx, incident, task, now)
    except SlackCallFailed as exc:
        _give_back(ctx, claim, exc, now)
        return
    if decided.postpone_to is not None:
        with ctx.db.session() as session:
            tasks.postpone(session=session, claim=claim, due=decided.postpone_to, now=now)
        return
    delivered: dict[str, list[str]] = dict(task.data.get("delivered") or {})
    try:
        for post in decided.posts:
            if post.key in delivered:
                continue
            # The batch this claim came in may have taken long: act only while it still holds.
            if not tasks.renew(db=ctx.db, claim=claim, now=ctx.clock.now()):
                log.warning("reminder %s: its claim went to another process", claim.task_id)
                return
            channel, ts = _deliver(ctx, incident, task, post, look_first=claim.attempts > 1)
            delivered[post.key] = [channel, ts]
            with ctx.db.session() as session:
                if not tasks.save_progress(
                    session=session,
                    claim=claim,
                    data={**task.data, "delivered": delivered},
                    now=now,
                ):
                    log.warning("reminder %s: lost its claim while posting", claim.task_id)
                    return
    except SlackCallFailed as exc:
        _give_back(ctx, claim, exc, now)
        return
    _finish(ctx, claim, incident, task, decided, delivered, now)


def _give_back(ctx: Context, claim: tasks.Claim, exc: SlackCallFailed, now: datetime) -> None:
    with ctx.db.session() as session:
        tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=str(exc),
            retry_after=exc.retry_after,
        )
    log.warning("reminder %s not posted yet: %s", claim.task_id, exc)


def _finish(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    task: ScheduledTask,
    decided: reminder_plans.Plan,
    delivered: dict[str, list[str]],
    now: datetime,
) -> None:
    main = delivered.get("channel")
    assert incident.id is not None
    occurrence = int(task.data.get("occurrence", 0))
    with ctx.db.session() as session:
        # The incident's row lock orders this with a change that re-arms the same reminders.
        fresh = incident_queries.lock(session, incident.id)
        if decided.notified:
            row = session.get(ScheduledTask, claim.task_id)
            if row is not None and row.claim_token == claim.token:
                row.data = {**row.data, "notified": decided.notified}
                session.add(row)
        if not tasks.complete(session=session, claim=claim, now=now):
            return  # another sweeper took it over; it will finish the job
        row = session.get(ScheduledTask, claim.task_id)
        assert row is not None
        if main is not None:
            row.slack_channel, row.slack_ts = main
            row.sent_at = now
            session.add(row)
            text = decided.posts[0].text if decided.posts else ""
            timeline_entries.record(
                session,
                incident.id,
                TimelineKind.REMINDER,
                now=now,
                actor=None,
                text=text,
                data={
                    "kind": task.kind,
                    "key": task.key,
                    "task": task.id,
                    "occurrence": occurrence,
                },
                dedupe_key=f"reminder:{task.id}:{occurrence}",
                channel_id=main[0],
                slack_ts=main[1],
            )
            for key, (channel, ts) in delivered.items():
                if key != "channel":
                    timeline_entries.record(
                        session,
                        incident.id,
                        TimelineKind.BOT_POST,
                        now=now,
                        text=next((p.text for p in decided.posts if p.key == key), text),
                        dedupe_key=timeline_entries.message_key(channel, ts),
                        channel_id=channel,
                        slack_ts=ts,
                        data={"kind": "reminder", "task": task.id},
                    )
        if decided.follow_up_at is not None and main is not None and _repeats(row, fresh):
            reminder_rules.follow_up(session, fresh, row, decided.follow_up_at, now)


def _repeats(task: ScheduledTask, incident: Incident) -> bool:
    """Whether a sent reminder comes again: nags and inactivity nudges while the incident is
    open; overdue actions and review reminders after it is resolved too (their plans stop
    them once the action is done or the review held)."""
    if task.kind in (TaskKind.NAG, TaskKind.STALE):
        return incident.is_open
    return task.kind in (TaskKind.ACTION_OVERDUE, TaskKind.PIR_REVIEW)
