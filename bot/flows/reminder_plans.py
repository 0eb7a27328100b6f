"""What a due reminder says, and to whom, decided when it falls due (`plan`).

A nag mentions the commander; the response target pings the severity's (or the policy's)
response contacts, else the first escalation step; an escalation step its own targets not
reached yet in this impact period (user groups expanded for `dm: true`); the resolution
target the commander (named by the text wherever the incident's people may be seen) and
the steps already due. A severity whose `notify_via` leaves Slack out has its targets
named but not pinged (`ping_targets`, for every ping). What a ping says depends on where
it goes: the incident's own channel gets the whole story, contact channels and direct
messages what `disclosure.outside` allows (for a private incident, its reference only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, PlainTextObject
from sqlalchemy import func
from sqlmodel import col, select

from bot import blocks
from bot.context import Context
from bot.flows import slack_refusals
from bot.ids import ActionId, BlockId
from bot.models import (
    ActionItem,
    ActionState,
    Incident,
    ScheduledTask,
    TaskKind,
    TaskState,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import Policy, Severity, format_duration
from bot.render import render
from bot.services import disclosure, impact_periods, reminder_rules
from bot.slack import targets as slack_targets
from bot.slack.gateway import SlackCallFailed


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
    follow_up_at: datetime | None = None  # a repeating reminder: its next occurrence
    notified: list[str] = field(default_factory=list)  # escalation targets reached
    # User groups whose members Slack would not list, with its answer (no DMs for them).
    refused: list[tuple[str, SlackCallFailed]] = field(default_factory=list)


@dataclass
class Targets:
    """Who a ping reaches: mentions in the text, channels posted in, people messaged."""

    mentions: list[str]
    channels: list[str]
    people: list[str]
    refused: list[tuple[str, SlackCallFailed]] = field(default_factory=list)


def resolve_targets(ctx: Context, names: list[str], *, dm: bool = False) -> Targets:
    """Mentions, channels to post in and (with `dm`) people to message, for notify names."""
    policy = ctx.policy
    mentions: list[str] = []
    channels: list[str] = []
    people: list[str] = []
    refused: list[tuple[str, SlackCallFailed]] = []
    for name in names:
        target = slack_targets.contact(policy.contacts, name)
        if target is None:
            mentions.append(f"{name.replace('_', ' ')} (no Slack contact set: contacts.{name})")
            continue
        mentions.append(target)
        found = slack_targets.kind(target)
        if found == "channel":
            channels.append(target)
        elif dm and found == "person":
            people.append(target)
        elif dm and found == "group":
            try:
                people.extend(ctx.slack.usergroup_members(target))
            except SlackCallFailed as exc:
                if slack_refusals.is_transient(exc):
                    raise
                refused.append((target, exc))  # its mention in the channels still pings it
    return Targets(
        list(dict.fromkeys(mentions)),
        list(dict.fromkeys(channels)),
        list(dict.fromkeys(people)),
        refused,
    )


def unpinged_targets(ctx: Context, names: list[str], *, how: str) -> Targets:
    """Notify names said in the incident's channel without pinging anyone in Slack (a
    severity whose `notify_via` leaves Slack out): no mentions, contact channels or DMs;
    `how` says how they are told instead."""
    labels = []
    for name in names:
        target = slack_targets.contact(ctx.policy.contacts, name)
        if name in ctx.policy.contacts or target is None:
            label = name.replace("_", " ")
        elif slack_targets.kind(target) == "person":
            user = ctx.slack.user(target)
            label = user.name if user is not None and user.name else "a person"
        elif slack_targets.kind(target) == "group":
            label = "a user group"
        else:
            label = "a channel"
        labels.append(f"{label} ({how})")
    return Targets(list(dict.fromkeys(labels)), [], [])


def ping_targets(ctx: Context, severity: str, names: list[str], *, dm: bool = False) -> Targets:
    """Who a ping about an incident of `severity` reaches: `resolve_targets`, or, when the
    severity's `notify_via` leaves Slack out, the names said without pinging anyone."""
    channels = ctx.policy.channels(severity)
    if "slack" in channels:
        return resolve_targets(ctx, names, dm=dm)
    return unpinged_targets(ctx, names, how="by email" if "email" in channels else "not in Slack")


def response_contacts(policy: Policy, severity: Severity) -> list[str]:
    """Who a missed response target pings: the severity's or the policy's response
    contacts, else the first escalation step's targets, else the severity's notify list."""
    if severity.response_contacts:
        return list(severity.response_contacts)
    if policy.response_contacts:
        return list(policy.response_contacts)
    if severity.escalation:
        return list(severity.escalation[0].notify)
    return list(severity.notify)


def resolution_contacts(incident: Incident, severity: Severity, now: datetime) -> list[str]:
    """Whom a missed resolution target pings besides the commander (whom its text mentions
    where the incident may be seen): every step already due; with neither, the severity's
    notify list."""
    start = incident.declared_at
    names = [n for step in severity.escalation if start + step.after <= now for n in step.notify]
    if names or incident.commander_id:
        return list(dict.fromkeys(names))
    return list(severity.notify)


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


def _notified_in_period(ctx: Context, incident: Incident, task: ScheduledTask) -> set[str]:
    """Escalation targets already reached in this task's impact period."""
    period = impact_periods.period_of(task)
    with ctx.db.session() as session:
        rows = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id,
                ScheduledTask.kind == TaskKind.ESCALATION,
                ScheduledTask.state == TaskState.DONE,
                col(ScheduledTask.key).startswith(f"{period}:"),
            )
        ).all()
    return {str(name) for row in rows for name in row.data.get("notified") or []}


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


def _fan_out(incident: Incident, template: str, targets: Targets, **context: Any) -> list[Post]:
    """The ping in the incident's channel, each contact channel and each DM, each rendered
    with what its audience may see."""
    assert incident.channel_id is not None

    def text(destination: str) -> str:
        view = disclosure.for_destination(incident, destination)
        return render(template, incident=view, targets=targets.mentions, **context)

    posts = [Post("channel", incident.channel_id, text(incident.channel_id))]
    posts.extend(
        Post(f"channel:{other}", other, text(other))
        for other in targets.channels
        if other != incident.channel_id
    )
    posts.extend(Post(f"dm:{person}", person, text(person)) for person in targets.people)
    return posts


def plan(ctx: Context, incident: Incident, task: ScheduledTask, now: datetime) -> Plan:
    """Decide what a due reminder posts, or that it has nothing to say (any more)."""
    policy = ctx.policy
    if incident.channel_id is None:
        return Plan()
    if task.kind == TaskKind.PIR_REVIEW:
        return _review_plan(incident, task, now)
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
        return Plan(posts=posts, follow_up_at=now + severity.update_interval)
    if task.kind == TaskKind.RESPONSE:
        if incident.commander_id is not None or incident.acknowledged_at is not None:
            return Plan()
        targets = ping_targets(ctx, incident.severity, response_contacts(policy, severity))
        return Plan(
            posts=_fan_out(
                incident,
                "response_ping.j2",
                targets,
                severity=severity,
                target=format_duration(severity.response_target),
            )
        )
    if task.kind == TaskKind.ESCALATION:
        step = reminder_rules.escalation_step(task, policy)
        if step is None or task.key.split(":")[1] != incident.severity:
            return Plan()
        fresh = [n for n in step.notify if n not in _notified_in_period(ctx, incident, task)]
        if not fresh:
            return Plan()  # a step of another severity already reached them in this period
        targets = ping_targets(ctx, incident.severity, fresh, dm=step.dm)
        posts = _fan_out(
            incident,
            "escalation.j2",
            targets,
            severity=severity,
            after=format_duration(step.after),
        )
        return Plan(posts=posts, notified=fresh, refused=targets.refused)
    if task.kind == TaskKind.RESOLUTION:
        names = resolution_contacts(incident, severity, now)
        targets = ping_targets(ctx, incident.severity, names)
        return Plan(
            posts=_fan_out(
                incident,
                "resolution_ping.j2",
                targets,
                severity=severity,
                target=format_duration(severity.resolution_target),
            )
        )
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
        return Plan(posts=[Post("channel", channel, text)], follow_up_at=now + policy.stale_after)
    return Plan()


def _review_plan(incident: Incident, task: ScheduledTask, now: datetime) -> Plan:
    if (
        incident.status not in ("resolved", "closed")
        or incident.channel_id is None
        or incident.review_held_at is not None
    ):
        return Plan()
    deadline = reminder_rules.review_deadline(task)
    text = render("pir_review.j2", incident=incident, deadline=deadline, overdue=now >= deadline)
    return Plan(
        posts=[Post("channel", incident.channel_id, text)],
        follow_up_at=reminder_rules.next_review_reminder(task, now),
    )


def _overdue_plan(ctx: Context, incident: Incident, task: ScheduledTask, now: datetime) -> Plan:
    with ctx.db.session() as session:
        item = session.get(ActionItem, int(task.key.removeprefix("a") or 0))
    if item is None or item.state != ActionState.OPEN or incident.channel_id is None:
        return Plan()
    posts = [
        Post(
            "channel",
            incident.channel_id,
            render("action_overdue.j2", incident=disclosure.inside(incident), item=item),
        )
    ]
    if item.owner_id:
        posts.append(
            Post(
                f"dm:{item.owner_id}",
                item.owner_id,
                render("action_overdue.j2", incident=disclosure.outside(incident), item=item),
            )
        )
    return Plan(posts=posts, follow_up_at=now + timedelta(days=1))
