"""Showing an incident's changes in Slack: posts in its channel and in-place edits.

Every change edits the pinned summary, the topic and the announcement in place (nothing
is posted twice where an edit will do) and records the bot's own posts on the timeline.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import blocks
from bot.context import Context
from bot.ids import MetadataType
from bot.models import Incident
from bot.render import render
from bot.services import disclosure, incident_roles, timeline_entries
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def load(ctx: Context, incident_id: int) -> tuple[Incident, dict[str, str]]:
    """An incident and who holds its roles."""
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise LookupError(f"incident {incident_id} does not exist")
        return incident, incident_roles.holders(session, incident)


def post(
    ctx: Context,
    incident: Incident,
    text: str,
    *,
    blocks_: list[dict[str, Any]] | None = None,
    kind: MetadataType = MetadataType.NOTICE,
    thread_ts: str | None = None,
) -> str | None:
    """Post in the incident's channel and put the post on the timeline; returns its ts."""
    if incident.channel_id is None:
        log.warning("%s has no channel yet; not posting", incident.reference)
        return None
    _, ts = ctx.slack.post_message(
        incident.channel_id,
        text=text,
        blocks=blocks_ if blocks_ is not None else blocks.as_dicts(blocks.text_blocks(text)),
        metadata={"event_type": str(kind), "event_payload": {"reference": incident.reference}},
        thread_ts=thread_ts,
    )
    assert incident.id is not None
    bot_user_id = ctx.slack.identity().user_id  # may call Slack once: not inside a transaction
    with ctx.db.session() as session:
        timeline_entries.record_bot_post(
            session,
            incident.id,
            channel_id=incident.channel_id,
            ts=ts,
            text=text,
            bot_user_id=bot_user_id,
            now=ctx.clock.now(),
            kind=str(kind),
            thread_ts=thread_ts,
        )
    return ts


def sync(ctx: Context, incident_id: int) -> None:
    """Bring the pinned summary, the topic and the announcement in line with the record."""
    incident, holders = load(ctx, incident_id)
    if incident.channel_id is None:
        return  # the set-up task will post the current state when it runs
    severity = ctx.policy.severity(incident.severity)
    if incident.summary_ts is not None:
        ctx.slack.update_message(
            incident.channel_id,
            incident.summary_ts,
            text=blocks.summary_text(incident, ctx.policy),
            blocks=blocks.as_dicts(blocks.summary_blocks(incident, ctx.policy, holders)),
        )
    topic = blocks.topic_text(incident, ctx.policy)
    if incident.topic is not None and topic != incident.topic:
        ctx.slack.set_topic(incident.channel_id, topic)
        with ctx.db.session() as session:
            row = session.get(Incident, incident_id)
            assert row is not None
            row.topic = topic
            session.add(row)
    if incident.announcement_ts is not None and incident.announcement_channel_id is not None:
        text = render("announcement.j2", incident=incident, severity=severity, notify=[])
        ctx.slack.update_message(
            incident.announcement_channel_id,
            incident.announcement_ts,
            text=text,
            blocks=blocks.as_dicts(blocks.text_blocks(text)),
        )


def post_and_sync(ctx: Context, incident_id: int, text: str, *, announce: bool = False) -> None:
    """Post a change in the channel (and under the announcement), then edit what shows it."""
    incident, _ = load(ctx, incident_id)
    post(ctx, incident, text)
    if announce:
        copy_to_announcement(ctx, incident, text)
    sync(ctx, incident_id)


def copy_to_announcement(ctx: Context, incident: Incident, text: str) -> None:
    """Copy a post into the announcement's thread (never for private incidents)."""
    if not disclosure.may_announce(incident) or incident.announcement_ts is None:
        return
    assert incident.announcement_channel_id is not None
    try:
        ctx.slack.post_message(
            incident.announcement_channel_id,
            text=text,
            blocks=blocks.as_dicts(blocks.text_blocks(text)),
            thread_ts=incident.announcement_ts,
        )
    except SlackCallFailed as exc:
        log.warning("%s: could not copy to the announcement: %s", incident.reference, exc)


def dm(ctx: Context, user_id: str, text: str) -> None:
    """A direct message from the bot (a failure is logged, not raised)."""
    try:
        ctx.slack.post_message(user_id, text=text, blocks=blocks.as_dicts(blocks.text_blocks(text)))
    except SlackCallFailed as exc:
        log.warning("could not DM %s: %s", user_id, exc)
