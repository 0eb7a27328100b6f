"""Posting in an incident's channel from a task that is itself retried and claimed (a
set-up step, a review draft's notice), and loading an incident with its role holders.

A change made with `/incident` does not post through here: it records its effects in its
own transaction (`effect_queue`) and `effect_delivery` carries them out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import blocks
from bot.context import Context
from bot.flows import slack_refusals
from bot.ids import MetadataType
from bot.models import Incident, TimelineKind
from bot.render import render
from bot.services import incident_roles, timeline_entries
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

# How far before its own time a retried post looks for the message an earlier attempt made.
LOOKBACK = timedelta(minutes=10)


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
    ctx.slack.identity()  # may call Slack once: before, not inside, the transaction
    with ctx.db.session() as session:
        record_own_post(ctx, session, incident, ts, text, str(kind), thread_ts=thread_ts)
    return ts


def record_own_post(
    ctx: Context,
    session: Session,
    incident: Incident,
    ts: str,
    text: str,
    kind: str,
    *,
    thread_ts: str | None = None,
) -> None:
    """Put one of the bot's posts in an incident's channel on its timeline (once)."""
    assert incident.id is not None and incident.channel_id is not None
    timeline_entries.record_bot_post(
        session,
        incident.id,
        channel_id=incident.channel_id,
        ts=ts,
        text=text,
        bot_user_id=ctx.slack.identity().user_id,  # callers have it cached by now
        now=ctx.clock.now(),
        kind=kind,
        thread_ts=thread_ts,
    )


def report_refusal(
    ctx: Context,
    incident: Incident,
    exc: SlackCallFailed,
    what: str,
    *,
    data: dict[str, Any],
    place: str | None = None,
    attempts: int = 1,
    note: str = "",
    tell: bool = True,
    dedupe_key: str | None = None,
) -> None:
    """Put on the timeline that Slack did not take `what` (and why, in plain words), and,
    with `tell`, say so in the incident's channel: best effort, since the channel itself
    may be what Slack refuses."""
    reason = slack_refusals.explain(exc, place)
    log.warning("%s: Slack did not take %s: %s", incident.reference, what, exc)
    assert incident.id is not None
    with ctx.db.session() as session:
        recorded = timeline_entries.record(
            session,
            incident.id,
            TimelineKind.SLACK_PROBLEM,
            now=ctx.clock.now(),
            text=f"Slack did not take {what}: {reason}",
            data={"error": exc.error, "method": exc.method, **data},
            dedupe_key=dedupe_key,
        )
    if tell and recorded and incident.channel_id is not None:
        try:
            post(
                ctx,
                incident,
                render("slack_refused.j2", what=what, reason=reason, attempts=attempts, note=note),
            )
        except SlackCallFailed:
            log.warning("%s: could not tell the channel either", incident.reference)


def post_once(
    ctx: Context,
    destination: str,
    *,
    text: str,
    blocks_: list[dict[str, Any]] | None,
    event_type: str,
    payload: dict[str, Any],
    look_first: bool,
    since: datetime,
    thread_ts: str | None = None,
    join: bool = False,
) -> tuple[str, str]:
    """Post a message stamped with metadata (`event_type`, `payload`), exactly once.

    On a retry (`look_first`), an earlier attempt may have posted it although Slack's answer
    was lost: the bot's messages since `since` in the destination (a channel, a thread, or
    the DM with a user) are searched for that metadata first, and a match is returned
    instead of posting again. With `join`, a public channel the bot is not in is joined
    (a private one still answers `not_in_channel`: it needs an invite). Returns
    (conversation ID, ts).
    """

    def attempt(look: bool) -> tuple[str, str]:
        if look:
            where = ctx.slack.open_dm(destination) if destination[:1] in ("U", "W") else destination
            found = ctx.slack.find_message(
                where,
                event_type=event_type,
                match=payload,
                oldest=f"{(since - LOOKBACK).timestamp():.6f}",
                thread_ts=thread_ts,
            )
            if found is not None:
                return where, found
        return ctx.slack.post_message(
            destination,
            text=text,
            blocks=blocks_ if blocks_ is not None else blocks.as_dicts(blocks.text_blocks(text)),
            metadata={"event_type": event_type, "event_payload": payload},
            thread_ts=thread_ts,
        )

    try:
        return attempt(look_first)
    except SlackCallFailed as exc:
        if not join or exc.error != "not_in_channel" or destination[:1] != "C":
            raise
    ctx.slack.join(destination)  # nothing was posted where the bot was not
    return attempt(False)
