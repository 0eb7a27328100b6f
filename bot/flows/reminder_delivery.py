"""Posting a due reminder exactly once: nags, response and resolution pings, escalations.

A claimed reminder posts outside any transaction and is marked sent only while its claim
holds. Every post carries message metadata naming the reminder; a reminder claimed again
after its holder died first looks for that metadata in each destination and never posts
to one twice. A 429 gives the claim back with the due time moved by Retry-After.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, PlainTextObject
from sqlalchemy import func
from sqlmodel import col, select

from bot import blocks
from bot.context import Context
from bot.ids import ActionId, BlockId, MetadataType
from bot.models import (
    ActionItem,
    ActionState,
    Incident,
    ScheduledTask,
    TaskKind,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import Policy, Severity, format_duration
from bot.render import render
from bot.services import reminder_rules, tasks, timeline_entries
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=10)


@dataclass(frozen=True)
class Post:
    """One destination of a reminder: a channel, or a person (a DM)."""

    key: str
    destination: str
    text: str
    blocks: list[dict[str, Any]] | None = None


@dataclass
class Plan:
    """What firing a reminder means now."""

    posts: list[Post] = field(default_factory=list)
    postpone_to: datetime | None = None  # not yet: due again then, nothing posted
    follow_up: timedelta | None = None  # a repeating reminder: the next one, from now


def _contacts(policy: Policy, names: list[str]) -> tuple[list[str], list[str]]:
    """(Targets to mention, channels to post in) for notify names and IDs."""
    mentions: list[str] = []
    channels: list[str] = []
    for name in names:
        target = policy.contacts.get(name, name) if name in policy.contacts else name
        if target is None:
            mentions.append(f"{name.replace('_', ' ')} (no Slack contact set: contacts.{name})")
        elif target.startswith(("C", "G")):
            channels.append(target)
            mentions.append(target)
        else:
            mentions.append(target)
    return list(dict.fromkeys(mentions)), list(dict.fromkeys(channels))


def _escalation_contacts(severity: Severity) -> list[str]:
    names: list[str] = []
    for step in severity.escalation:
        names.extend(step.notify)
    return list(dict.fromkeys(names or severity.notify))


def _last_activity(ctx: Context, incident: Incident) -> datetime:
    with ctx.db.session() as session:
        latest = session.exec(
            select(func.max(TimelineEvent.occurred_at)).where(
                TimelineEvent.incident_id == incident.id,
                col(TimelineEvent.kind).not_in(
                    [TimelineKind.BOT_POST, TimelineKind.REMINDER, TimelineKind.SLACK_SETUP]
                ),
            )
        ).one()
    if latest is None:
        return incident.declared_at
    if latest.tzinfo is None:  # in case an aggregate comes back without the column type
        latest = latest.replace(tzinfo=UTC)
    return max(latest, incident.declared_at)


def _nag_blocks(text: str, task_id: int, policy: Policy) -> list[dict[str, Any]]:
    buttons = [
        ButtonElement(
            action_id=ActionId.NAG_UPDATE,
            text=PlainTextObject(text="Post update"),
            value=json.dumps({"task": task_id}),
            style="primary",
        )
    ]
    for index, option in enumerate(policy.snooze_options):
        buttons.append(
            ButtonElement(
                action_id=f"{ActionId.NAG_SNOOZE}:{index}",
                text=PlainTextObject(text=f"Snooze {format_duration(option)}"),
                value=json.dumps({"task": task_id, "seconds": int(option.total_seconds())}),
            )
        )
    return [
        *blocks.as_dicts(blocks.text_blocks(text)),
        ActionsBlock(block_id=BlockId.ACTIONS, elements=buttons).to_dict(),
    ]


def plan(ctx: Context, incident: Incident, task: ScheduledTask, now: datetime) -> Plan:
    """Decide what a due reminder posts, or that it has nothing to say (any more)."""
    policy = ctx.policy
    if incident.channel_id is None:
        return Plan()
    if task.kind == TaskKind.PIR_REVIEW:
        return _review_plan(incident, task)
    if task.kind == TaskKind.ACTION_OVERDUE:
        return _overdue_plan(ctx, incident, task, now)
    if not incident.is_open:
        return Plan()
    severity = policy.severity(incident.severity)
    channel = incident.channel_id
    assert task.id is not None
    if task.kind == TaskKind.NAG:
        if incident.next_update_due_at is not None and incident.next_update_due_at > now:
            return Plan()  # an update or a snooze moved it; its own nag row is pending
        who = incident.commander_id or incident.reporter_id
        overdue = now - (incident.next_update_due_at or task.due_at)
        text = render(
            "nag.j2",
            who=who,
            incident=incident,
            severity=severity,
            interval=format_duration(severity.update_interval),
            overdue=format_duration(overdue) if overdue >= timedelta(minutes=1) else "",
        )
        posts = [Post("channel", channel, text, _nag_blocks(text, task.id, policy))]
        return Plan(posts=posts, follow_up=severity.update_interval)
    if task.kind == TaskKind.RESPONSE:
        if incident.commander_id is not None or incident.acknowledged_at is not None:
            return Plan()
        targets, channels = _contacts(policy, _escalation_contacts(severity))
        text = render(
            "response_ping.j2",
            incident=incident,
            severity=severity,
            target=format_duration(severity.response_target),
            targets=targets,
        )
        return Plan(posts=_fan_out(channel, text, channels, []))
    if task.kind == TaskKind.ESCALATION:
        _, sev_key, index = [*task.key.split(":"), "", "", ""][:3]
        if sev_key != incident.severity or not index.isdigit():
            return Plan()
        steps = severity.escalation
        if int(index) >= len(steps):
            return Plan()
        step = steps[int(index)]
        targets, channels = _contacts(policy, step.notify)
        text = render(
            "escalation.j2",
            incident=incident,
            severity=severity,
            after=format_duration(step.after),
            targets=targets,
        )
        people = [t for t in targets if t[:1] in ("U", "W")] if step.dm else []
        return Plan(posts=_fan_out(channel, text, channels, people))
    if task.kind == TaskKind.RESOLUTION:
        names = ([incident.commander_id] if incident.commander_id else []) + _escalation_contacts(
            severity
        )
        targets, channels = _contacts(policy, names)
        text = render(
            "resolution_ping.j2",
            incident=incident,
            severity=severity,
            target=format_duration(severity.resolution_target),
            targets=targets,
        )
        return Plan(posts=_fan_out(channel, text, channels, []))
    if task.kind == TaskKind.STALE:
        idle_since = _last_activity(ctx, incident)
        if idle_since + policy.stale_after > now:
            return Plan(postpone_to=idle_since + policy.stale_after)
        text = render(
            "stale.j2",
            incident=incident,
            idle=format_duration(now - idle_since),
            who=incident.commander_id or incident.reporter_id,
        )
        return Plan(posts=[Post("channel", channel, text)], follow_up=policy.stale_after)
    return Plan()


def _review_plan(incident: Incident, task: ScheduledTask) -> Plan:
    if incident.status not in ("resolved", "closed") or incident.channel_id is None:
        return Plan()
    deadline = datetime.fromisoformat(str(task.data.get("deadline") or task.due_at.isoformat()))
    text = render("pir_review.j2", incident=incident, deadline=deadline)
    return Plan(posts=[Post("channel", incident.channel_id, text)])


def _overdue_plan(ctx: Context, incident: Incident, task: ScheduledTask, now: datetime) -> Plan:
    with ctx.db.session() as session:
        item = session.get(ActionItem, int(task.key.removeprefix("a") or 0))
    if item is None or item.state != ActionState.OPEN or incident.channel_id is None:
        return Plan()
    text = render("action_overdue.j2", incident=incident, item=item)
    posts = [Post("channel", incident.channel_id, text)]
    if item.owner_id:
        posts.append(Post(f"dm:{item.owner_id}", item.owner_id, text))
    return Plan(posts=posts, follow_up=timedelta(days=1))


def _fan_out(channel: str, text: str, channels: list[str], people: list[str]) -> list[Post]:
    posts = [Post("channel", channel, text)]
    posts.extend(Post(f"channel:{other}", other, text) for other in channels if other != channel)
    posts.extend(Post(f"dm:{person}", person, text) for person in people)
    return posts


def _deliver(
    ctx: Context, incident: Incident, task: ScheduledTask, post: Post, *, look_first: bool
) -> tuple[str, str]:
    """Post one destination, unless an earlier holder of this reminder already did."""
    metadata = {
        "event_type": str(MetadataType.REMINDER),
        "event_payload": {
            "reference": incident.reference,
            "task": task.id,
            "key": post.key,
            "occurrence": int(task.data.get("occurrence", 0)),
        },
    }
    if look_first:
        channel = (
            ctx.slack.open_dm(post.destination)
            if post.key.startswith("dm:")
            else (post.destination)
        )
        found = ctx.slack.find_message(
            channel,
            event_type=MetadataType.REMINDER,
            match={
                "task": task.id,
                "key": post.key,
                "occurrence": int(task.data.get("occurrence", 0)),
            },
            oldest=f"{(task.due_at - LOOKBACK).timestamp():.6f}",
        )
        if found is not None:
            return channel, found
    blocks_ = (
        post.blocks if post.blocks is not None else blocks.as_dicts(blocks.text_blocks(post.text))
    )
    return ctx.slack.post_message(
        post.destination, text=post.text, blocks=blocks_, metadata=metadata
    )


def run_claimed(ctx: Context, claim: tasks.Claim) -> None:
    """Fire one claimed reminder."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, claim.task_id)
        incident = session.get(Incident, claim.incident_id)
    if task is None or incident is None:
        return
    decided = plan(ctx, incident, task, now)
    if decided.postpone_to is not None:
        with ctx.db.session() as session:
            tasks.postpone(session=session, claim=claim, due=decided.postpone_to, now=now)
        return
    delivered: dict[str, list[str]] = dict(task.data.get("delivered") or {})
    try:
        for post in decided.posts:
            if post.key in delivered:
                continue
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
        with ctx.db.session() as session:
            tasks.release(
                session=session,
                claim=claim,
                now=now,
                error=str(exc),
                retry_after=exc.retry_after,
            )
        log.warning("reminder %s not posted yet: %s", claim.task_id, exc)
        return
    _finish(ctx, claim, incident, task, decided, delivered, now)


def _finish(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    task: ScheduledTask,
    decided: Plan,
    delivered: dict[str, list[str]],
    now: datetime,
) -> None:
    main = delivered.get("channel")
    with ctx.db.session() as session:
        if not tasks.complete(session=session, claim=claim, now=now):
            return  # another sweeper took it over; it will finish the job
        row = session.get(ScheduledTask, claim.task_id)
        assert row is not None and incident.id is not None
        if main is not None:
            row.slack_channel, row.slack_ts = main
            row.sent_at = now
            session.add(row)
            timeline_entries.record(
                session,
                incident.id,
                TimelineKind.REMINDER,
                now=now,
                actor=None,
                text=decided.posts[0].text if decided.posts else "",
                data={"kind": task.kind, "key": task.key, "task": task.id},
                dedupe_key=f"reminder:{task.id}",
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
                        text=decided.posts[0].text if decided.posts else "",
                        dedupe_key=timeline_entries.message_key(channel, ts),
                        channel_id=channel,
                        slack_ts=ts,
                        data={"kind": "reminder", "task": task.id},
                    )
        if decided.follow_up is not None and main is not None:
            fresh = session.get(Incident, incident.id)
            if fresh is not None and fresh.is_open:
                if task.kind == TaskKind.NAG:
                    reminder_rules.schedule_nag(session, fresh, now + decided.follow_up, now)
                else:
                    tasks.schedule(
                        session=session,
                        incident_id=incident.id,
                        kind=task.kind,
                        key=task.key,
                        due_at=now + decided.follow_up,
                        now=now,
                    )
