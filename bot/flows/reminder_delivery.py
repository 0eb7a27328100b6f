"""Posting a due reminder exactly once: nags, response and resolution pings, escalations.

A claimed reminder posts outside any transaction, renews its claim before each post and
is marked sent only while its claim holds. Every post carries message metadata naming the
reminder and its occurrence; a reminder claimed again after its holder died first looks
for that metadata in each destination and never posts to one twice. A 429 or an outage
gives the claim back with the due time moved by Retry-After (or a back-off); a destination
refused for good is recorded and told once, and the others still go. What each reminder
says, and to whom, is `reminder_plans.plan`'s to decide.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.context import Context
from bot.flows import incident_posts, reminder_plans, slack_refusals
from bot.ids import MetadataType
from bot.models import (
    Incident,
    ScheduledTask,
    TaskKind,
    TimelineKind,
)
from bot.render import Slack, escape, mention
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
        join=post.key.startswith("channel:"),  # a public contact channel
    )


def run_claimed(ctx: Context, claim: tasks.Claim) -> None:
    """Fire one claimed reminder."""
    now = ctx.clock.now()
    loaded = tasks.load(ctx.db, claim)
    if loaded is None:
        return
    task, incident = loaded
    try:
        decided = reminder_plans.plan(ctx, incident, task, now)
    except SlackCallFailed as exc:
        give_back(ctx, claim, exc, now)
        return
    if decided.postpone_to is not None:
        with ctx.db.session() as session:
            tasks.postpone(session=session, claim=claim, due=decided.postpone_to, now=now)
        return
    delivered = post_each(ctx, claim, incident, task, decided.posts, now=now)
    if delivered is None:
        return
    for group, refusal in decided.refused:
        report_refused(ctx, incident, task, group, refusal, told="channel" in delivered)
    if len(delivered) > len(task.data.get("delivered") or {}):
        ctx.metrics.reminders_sent.labels(kind=claim.kind).inc()
    _finish(ctx, claim, incident, task, decided, delivered, now)


def post_each(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    task: ScheduledTask,
    posts: list[reminder_plans.Post],
    *,
    now: datetime,
    label: str = "the reminder",
    always_tell: bool = False,
) -> dict[str, list[str]] | None:
    """Post each destination this claimed task has not reached yet, keeping its progress.

    Returns every destination reached (key: [conversation, ts]), or None when there is
    nothing more to do now: the claim went to another process, or a 429 or an outage gave
    it back. A destination refused for good is recorded and told once (in the incident's
    channel when the task posted there, or always with `always_tell`).
    """
    delivered: dict[str, list[str]] = dict(task.data.get("delivered") or {})
    refused: dict[str, str] = dict(task.data.get("refused") or {})
    try:
        for post in posts:
            if post.key in delivered or post.key in refused:
                continue
            # The batch this claim came in may have taken long: act only while it still holds.
            if not tasks.renew(db=ctx.db, claim=claim, now=ctx.clock.now()):
                log.warning("reminder %s: its claim went to another process", claim.task_id)
                return None
            try:
                delivered[post.key] = list(
                    _deliver(ctx, incident, task, post, look_first=claim.attempts > 1)
                )
            except SlackCallFailed as exc:
                if slack_refusals.is_transient(exc):
                    raise
                # Refused for good: say so (once), and the other destinations still go.
                told = always_tell or "channel" in delivered
                report_refused(ctx, incident, task, post, exc, told=told, label=label)
                refused[post.key] = exc.error
            progress = {**task.data, "delivered": delivered, "refused": refused}
            with ctx.db.session() as session:
                if not tasks.save_progress(session=session, claim=claim, data=progress, now=now):
                    log.warning("reminder %s: lost its claim while posting", claim.task_id)
                    return None
    except SlackCallFailed as exc:
        give_back(ctx, claim, exc, now, label=label)
        return None
    return delivered


def report_refused(
    ctx: Context,
    incident: Incident,
    task: ScheduledTask,
    post: reminder_plans.Post | str,
    exc: SlackCallFailed,
    *,
    told: bool,
    label: str = "the reminder",
) -> None:
    """Record a destination (or a user group whose members were to be messaged) that Slack
    refused for good, and tell the incident's channel when the reminder reached it: once
    per task, destination and error, though each occurrence tries the destination again."""
    if isinstance(post, str):
        key, what, place = f"group:{post}", f"the direct messages to user group {post}", None
    elif post.key == "channel":
        key, what, place = post.key, f"{label} in the channel", "incident"
    elif post.key.startswith("dm:"):
        what = Slack(f"{escape(label)}'s direct message to {mention(post.destination)}")
        key, place = post.key, "dm"
    else:
        what = Slack(f"{escape(label)} in {mention(post.destination)}")
        key, place = post.key, "contact"
    incident_posts.report_refusal(
        ctx,
        incident,
        exc,
        what,
        data={"task": task.id, "key": key},
        place=place,
        tell=told and key != "channel",
        dedupe_key=f"refused:{task.id}:{key}:{exc.error}",
    )


def give_back(
    ctx: Context,
    claim: tasks.Claim,
    exc: SlackCallFailed,
    now: datetime,
    *,
    label: str = "the reminder",
) -> None:
    """Give a claimed task back after a 429 or an outage, due again after Slack's
    Retry-After or a back-off."""
    with ctx.db.session() as session:
        tasks.release(
            session=session, claim=claim, now=now, error=str(exc), retry_after=exc.retry_after
        )
    log.warning("%s (task %s) not posted yet: %s", label, claim.task_id, exc)


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
        texts = {post.key: post.text for post in decided.posts}
        for key, (channel, ts) in delivered.items():
            if key != "channel":
                timeline_entries.record(
                    session,
                    incident.id,
                    TimelineKind.BOT_POST,
                    now=now,
                    text=texts.get(key, ""),
                    dedupe_key=timeline_entries.message_key(channel, ts),
                    channel_id=channel,
                    slack_ts=ts,
                    data={"kind": "reminder", "task": task.id},
                )
        # Without its post in the channel (refused for good), a repeating reminder stops.
        if decided.follow_up_at is not None and main is not None and _repeats(row, fresh):
            reminder_rules.follow_up(session, fresh, row, decided.follow_up_at, now)


def _repeats(task: ScheduledTask, incident: Incident) -> bool:
    """Whether a sent reminder comes again: nags and inactivity nudges while the incident is
    open; overdue actions and review reminders after it is resolved too (their plans stop
    them once the action is done or the review held)."""
    if task.kind in (TaskKind.NAG, TaskKind.STALE):
        return incident.is_open
    return task.kind in (TaskKind.ACTION_OVERDUE, TaskKind.PIR_REVIEW)
