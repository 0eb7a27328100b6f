"""Setting an incident up in Slack: channel, invite, topic, pinned summary, announcement.

Each step records its result as soon as it succeeds, so a run that fails part-way leaves
the incident recorded and the next run (the scheduler's retry, or *Retry now*) does only
the steps still missing. Steps that create something look for what an earlier, failed
attempt may have made before creating it again, so nothing is created twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from bot import blocks
from bot.context import Context
from bot.ids import MetadataType
from bot.models import Incident, TaskKind, TimelineEvent, TimelineKind
from bot.render import render, truncate
from bot.services import tasks, timeline_entries
from bot.slack.gateway import Channel, SlackCallFailed
from bot.slack.names import channel_name

log = logging.getLogger(__name__)

TOPIC_MAX = 250
MAX_NAME_ATTEMPTS = 20
# A channel the bot created this long before the incident was declared is not its channel.
ADOPT_WINDOW = timedelta(minutes=5)

STEP_WORDS = {
    "channel": "the incident channel was not created",
    "invite": "you were not added to the incident channel",
    "topic": "the channel topic was not set",
    "summary": "the summary was not posted in the channel",
    "pin": "the summary was not pinned",
    "announcement": "the incident was not announced",
    "confirmation": "this confirmation was not sent",
}

ERROR_WORDS = {
    "ratelimited": "Slack asked the bot to slow down",
    "timeout": "Slack did not answer in time",
    "server_error": "Slack had an internal error",
    "internal_error": "Slack had an internal error",
    "fatal_error": "Slack had an internal error",
    "service_unavailable": "Slack is unavailable",
    "connection_error": "the bot could not reach Slack",
    "missing_scope": "the Slack app lacks a permission; an admin must reinstall it from "
    "manifest.yml",
    "restricted_action": "the workspace does not allow this app to create channels",
    "not_in_channel": "the bot is not in the announcement channel; invite it there",
    "channel_not_found": "a channel was not found (check announcement_channel in the policy)",
    "is_archived": "the announcement channel is archived",
}


@dataclass(frozen=True)
class Outcome:
    """What a provisioning run did."""

    incident_id: int
    done: bool
    failed_step: str | None = None
    error: SlackCallFailed | None = None


def _load(ctx: Context, incident_id: int) -> Incident:
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise LookupError(f"incident {incident_id} does not exist")
        return incident


def _save(ctx: Context, incident_id: int, **fields: Any) -> Incident:
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        for name, value in fields.items():
            setattr(incident, name, value)
        incident.updated_at = ctx.clock.now()
        session.add(incident)
        return incident


def missing_steps(ctx: Context, incident: Incident) -> list[str]:
    """The set-up steps an incident still lacks, in order."""
    missing = []
    if incident.channel_id is None:
        missing.append("channel")
    if not incident.reporter_invited:
        missing.append("invite")
    if incident.topic is None:
        missing.append("topic")
    if incident.summary_ts is None:
        missing.append("summary")
    if not incident.summary_pinned:
        missing.append("pin")
    if _announces(ctx, incident) and incident.announcement_ts is None:
        missing.append("announcement")
    if not incident.confirmation_sent:
        missing.append("confirmation")
    return missing


def _announces(ctx: Context, incident: Incident) -> bool:
    return ctx.policy.announcement_channel is not None and not incident.is_private


def _oldest(incident: Incident) -> str:
    return f"{(incident.declared_at - ADOPT_WINDOW).timestamp():.6f}"


def _adoptable(ctx: Context, channel: Channel, incident: Incident) -> bool:
    """Whether an existing channel is the one an earlier attempt made for this incident."""
    if channel.is_archived or channel.creator != ctx.slack.identity().user_id:
        return False
    if channel.created < (incident.declared_at - ADOPT_WINDOW).timestamp():
        return False
    with ctx.db.session() as session:
        owner = session.exec(select(Incident.id).where(Incident.channel_id == channel.id)).first()
    return owner is None or owner == incident.id


def _create_channel(ctx: Context, incident: Incident) -> Channel:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = channel_name(incident.reference, incident.title, attempt)
        try:
            return ctx.slack.create_channel(name, is_private=incident.is_private)
        except SlackCallFailed as exc:
            if exc.error != "name_taken" and not exc.unknown_outcome:
                raise
            existing = ctx.slack.find_channel(name, is_private=incident.is_private)
            if existing is not None and _adoptable(ctx, existing, incident):
                log.info(
                    "%s: adopting channel %s from an earlier attempt", incident.reference, name
                )
                return existing
            if exc.error != "name_taken":
                raise
    raise SlackCallFailed("conversations.create", "name_taken")


def _post_once(
    ctx: Context,
    incident: Incident,
    channel: str,
    *,
    kind: MetadataType,
    text: str,
    blocks_: list[dict[str, Any]] | None,
    look_first: bool,
) -> tuple[str, str]:
    """Post a message stamped with metadata, unless an earlier attempt already did."""
    match = {"reference": incident.reference}
    if look_first:
        found = ctx.slack.find_message(
            channel, event_type=kind, match=match, oldest=_oldest(incident)
        )
        if found is not None:
            return channel, found
    metadata = {"event_type": str(kind), "event_payload": match}
    return ctx.slack.post_message(channel, text=text, blocks=blocks_, metadata=metadata)


def topic_text(ctx: Context, incident: Incident) -> str:
    """The channel topic: reference, severity, status, commander."""
    severity = ctx.policy.severity(incident.severity)
    return truncate(render("topic.j2", incident=incident, severity=severity), TOPIC_MAX)


def notify_targets(ctx: Context, incident: Incident) -> list[str]:
    """Slack IDs the severity's notify list resolves to (unset contacts are skipped)."""
    targets = []
    for target in ctx.policy.severity(incident.severity).notify:
        resolved = ctx.policy.contacts.get(target, target)
        if resolved:
            targets.append(resolved)
    return targets


def provision(ctx: Context, incident_id: int, *, look_first: bool) -> Outcome:
    """Run every missing set-up step, stopping at the first Slack failure.

    `look_first` is set on retries: creating steps then check whether an earlier attempt
    made their message or channel before making it again.
    """
    incident = _load(ctx, incident_id)
    step = "channel"
    try:
        if incident.channel_id is None:
            channel = _create_channel(ctx, incident)
            incident = _save(ctx, incident_id, channel_id=channel.id, channel_name=channel.name)
            ctx.channels.remember(channel.id, incident_id)
        assert incident.channel_id is not None
        channel_id = incident.channel_id

        step = "invite"
        if not incident.reporter_invited:
            if incident.reporter_id != ctx.slack.identity().user_id:
                ctx.slack.invite(channel_id, [incident.reporter_id])
            incident = _save(ctx, incident_id, reporter_invited=True)

        step = "topic"
        topic = topic_text(ctx, incident)
        if incident.topic != topic:
            ctx.slack.set_topic(channel_id, topic)
            incident = _save(ctx, incident_id, topic=topic)

        step = "summary"
        if incident.summary_ts is None:
            _, ts = _post_once(
                ctx,
                incident,
                channel_id,
                kind=MetadataType.SUMMARY,
                text=blocks.summary_text(incident, ctx.policy),
                blocks_=blocks.as_dicts(blocks.summary_blocks(incident, ctx.policy)),
                look_first=look_first,
            )
            incident = _save(ctx, incident_id, summary_ts=ts)
            _record_post(ctx, incident, channel_id, ts, "summary")
        assert incident.summary_ts is not None

        step = "pin"
        if not incident.summary_pinned:
            ctx.slack.pin(channel_id, incident.summary_ts)
            incident = _save(ctx, incident_id, summary_pinned=True)

        step = "announcement"
        if _announces(ctx, incident) and incident.announcement_ts is None:
            incident = _announce(ctx, incident, look_first=look_first)

        step = "confirmation"
        if not incident.confirmation_sent:
            text = render(
                "confirmation.j2", incident=incident, recovered=incident.failure_notice_sent
            )
            dm = ctx.slack.open_dm(incident.reporter_id) if look_first else incident.reporter_id
            _post_once(
                ctx,
                incident,
                dm,
                kind=MetadataType.CONFIRMATION,
                text=text,
                blocks_=None,
                look_first=look_first,
            )
            incident = _save(ctx, incident_id, confirmation_sent=True)
    except SlackCallFailed as exc:
        return Outcome(incident_id=incident_id, done=False, failed_step=step, error=exc)

    if incident.provisioned_at is None:
        now = ctx.clock.now()
        _save(ctx, incident_id, provisioned_at=now)
        _record_setup(ctx, incident, now)
    return Outcome(incident_id=incident_id, done=True)


def _announce(ctx: Context, incident: Incident, *, look_first: bool) -> Incident:
    announcement = ctx.policy.announcement_channel
    assert announcement is not None and incident.id is not None
    blocks_ = blocks.as_dicts(
        blocks.announcement_blocks(incident, ctx.policy, notify_targets(ctx, incident))
    )
    text = blocks.summary_text(incident, ctx.policy)
    try:
        channel, ts = _post_once(
            ctx,
            incident,
            announcement,
            kind=MetadataType.ANNOUNCEMENT,
            text=text,
            blocks_=blocks_,
            look_first=look_first,
        )
    except SlackCallFailed as exc:
        if exc.error != "not_in_channel":
            raise
        ctx.slack.join(announcement)  # public channels only; private ones need an invite
        channel, ts = _post_once(
            ctx,
            incident,
            announcement,
            kind=MetadataType.ANNOUNCEMENT,
            text=text,
            blocks_=blocks_,
            look_first=False,
        )
    incident = _save(ctx, incident.id, announcement_channel_id=channel, announcement_ts=ts)
    _record_post(ctx, incident, channel, ts, "announcement")
    return incident


def _record_post(ctx: Context, incident: Incident, channel: str, ts: str, what: str) -> None:
    """Put one of the bot's own set-up posts on the timeline (once)."""
    assert incident.id is not None
    bot_user_id = ctx.slack.identity().user_id  # may call Slack once: not inside a transaction
    with ctx.db.session() as session:
        timeline_entries.record_bot_post(
            session,
            incident.id,
            channel_id=channel,
            ts=ts,
            text=f"Posted the {what}",
            bot_user_id=bot_user_id,
            now=ctx.clock.now(),
            kind=what,
        )


def _record_setup(ctx: Context, incident: Incident, now: datetime) -> None:
    assert incident.id is not None
    with ctx.db.session() as session:
        exists = session.exec(
            select(TimelineEvent.id).where(
                TimelineEvent.dedupe_key == f"setup:{incident.reference}"
            )
        ).first()
        if exists is None:
            session.add(
                TimelineEvent(
                    incident_id=incident.id,
                    kind=TimelineKind.SLACK_SETUP,
                    occurred_at=now,
                    actor_id=None,
                    text=f"Channel #{incident.channel_name} set up",
                    data={
                        "channel_id": incident.channel_id,
                        "summary_ts": incident.summary_ts,
                        "announcement_ts": incident.announcement_ts,
                    },
                    dedupe_key=f"setup:{incident.reference}",
                )
            )


def explain(error: SlackCallFailed) -> str:
    """A failure in plain words."""
    words = ERROR_WORDS.get(error.error)
    return words if words else f"Slack answered `{error.error}` to {error.method}"


def _tell_reporter(ctx: Context, outcome: Outcome, next_attempt: datetime | None) -> None:
    """Tell the reporter, once, what did not happen and that the bot keeps trying."""
    incident = _load(ctx, outcome.incident_id)
    if incident.failure_notice_sent or outcome.error is None:
        return
    # The notice itself stands in for the confirmation, so that step goes unmentioned.
    missing = [STEP_WORDS[step] for step in missing_steps(ctx, incident) if step != "confirmation"]
    text = render(
        "setup_failed.j2",
        incident=incident,
        missing=missing or ["part of the set-up"],
        reason=explain(outcome.error),
        next_attempt=next_attempt,
    )
    assert incident.id is not None
    try:
        ctx.slack.post_message(
            incident.reporter_id,
            text=text,
            blocks=blocks.as_dicts(blocks.setup_failed_blocks(text, incident.id)),
        )
    except SlackCallFailed:
        log.warning("%s: could not tell the reporter about the failed set-up", incident.reference)
        return
    _save(ctx, outcome.incident_id, failure_notice_sent=True)


def run_claimed(ctx: Context, claim: tasks.Claim) -> Outcome:
    """Run a claimed provisioning task and record how it went."""
    try:
        outcome = provision(ctx, claim.incident_id, look_first=claim.attempts > 1)
    except Exception as exc:
        with ctx.db.session() as session:
            tasks.release(session=session, claim=claim, now=ctx.clock.now(), error=repr(exc))
        raise
    now = ctx.clock.now()
    with ctx.db.session() as session:
        if outcome.done:
            tasks.complete(session=session, claim=claim, now=now)
            return outcome
        assert outcome.error is not None
        due = tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=f"{outcome.failed_step}: {outcome.error}",
            retry_after=outcome.error.retry_after,
        )
    log.warning(
        "incident %s: set-up step %s failed (%s); next attempt %s",
        claim.incident_id,
        outcome.failed_step,
        outcome.error,
        due,
    )
    _tell_reporter(ctx, outcome, due)
    return outcome


def run_for(ctx: Context, incident_id: int) -> Outcome | None:
    """Run an incident's set-up at once; None when it is done or another process holds it."""
    with ctx.db.session() as session:
        task_id = tasks.find(session=session, incident_id=incident_id, kind=TaskKind.PROVISION)
    if task_id is None:
        return None
    claim = tasks.claim_task(db=ctx.db, task_id=task_id, now=ctx.clock.now())
    if claim is None:
        return None
    return run_claimed(ctx, claim)
