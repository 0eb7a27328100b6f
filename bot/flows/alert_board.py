"""What the incident channel shows of its alerts, and monitoring's own health.

The alert list is one message, posted once and edited in place (firing and resolved
counts, the latest changes first); it is a task row per incident, so a change while
Slack is down is shown when Slack is back. When every alert is resolved the channel is
asked, once per such moment, whether to resolve the incident (a person checks recovery).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlmodel import select

from bot import alert_blocks, blocks
from bot.context import Context
from bot.flows import announcement_channel, effect_delivery, incident_posts
from bot.ids import MetadataType
from bot.models import Incident, IncidentAlert, ScheduledTask, TaskKind
from bot.render import render
from bot.services import task_schedule, tasks
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

ROUNDS = 3


def run_for(ctx: Context, incident_id: int) -> None:
    """Show the alert list now (if no other process is showing it right now)."""
    with ctx.db.session() as session:
        task_id = task_schedule.find(
            session=session, incident_id=incident_id, kind=TaskKind.ALERT_BOARD
        )
    if task_id is None:
        return
    tasks.claim_and_run(
        db=ctx.db, task_id=task_id, now=ctx.clock.now(), run=lambda c: run_claimed(ctx, c)
    )


def _state(ctx: Context, claim: tasks.Claim) -> tuple[Incident, ScheduledTask, list[IncidentAlert]]:
    with ctx.db.session() as session:
        incident = session.get(Incident, claim.incident_id)
        task = session.get(ScheduledTask, claim.task_id)
        alerts = list(
            session.exec(
                select(IncidentAlert).where(IncidentAlert.incident_id == claim.incident_id)
            ).all()
        )
    assert incident is not None and task is not None
    return incident, task, alerts


def _stamp(alerts: list[IncidentAlert]) -> str:
    """What the list shows, in short: each alert's status and start."""
    shown = sorted(f"{a.id}:{a.status}:{a.starts_at.isoformat()}" for a in alerts)
    return hashlib.sha256("|".join(shown).encode()).hexdigest()[:32]


def run_claimed(ctx: Context, claim: tasks.Claim) -> bool:
    """Post or edit the alert list, and ask to resolve once all alerts are resolved."""
    now = ctx.clock.now()
    incident, task, alerts = _state(ctx, claim)
    if incident.channel_id is None:
        with ctx.db.session() as session:
            due = now + effect_delivery.CHANNEL_WAIT
            tasks.postpone(session=session, claim=claim, due=due, now=now)
        return False
    data = dict(task.data)
    try:
        for _ in range(ROUNDS):
            stamp = _stamp(alerts)
            if data.get("shown") != stamp:
                data = _show(ctx, claim, incident, alerts, data)
                data["shown"] = stamp
                _save(ctx, claim, data)
            # A change made while this ran was armed on a task this process held: look again.
            incident, task, alerts = _state(ctx, claim)
            if _stamp(alerts) == stamp:
                break
        data = _prompt(ctx, claim, incident, alerts, data)
    except SlackCallFailed as exc:
        return effect_delivery.failed_effect(ctx, claim, incident, exc, "the alert list")
    with ctx.db.session() as session:
        tasks.save_progress(session=session, claim=claim, data=data, now=now)
        return tasks.complete(session=session, claim=claim, now=now)


def _save(ctx: Context, claim: tasks.Claim, data: dict[str, object]) -> None:
    with ctx.db.session() as session:
        tasks.save_progress(session=session, claim=claim, data=data, now=ctx.clock.now())


def _show(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    alerts: list[IncidentAlert],
    data: dict[str, object],
) -> dict[str, object]:
    assert incident.channel_id is not None
    text = alert_blocks.board_text(alerts)
    shown = blocks.as_dicts(blocks.text_blocks(text))
    ts = data.get("ts")
    if isinstance(ts, str):
        ctx.slack.update_message(incident.channel_id, ts, text=text, blocks=shown)
        return data
    _, posted = incident_posts.post_once(
        ctx,
        incident.channel_id,
        text=text,
        blocks_=shown,
        event_type=str(MetadataType.ALERT_BOARD),
        payload={"reference": incident.reference, "task": claim.task_id},
        look_first=claim.attempts > 1,
        since=incident.declared_at,
    )
    data = {**data, "ts": posted}
    _save(ctx, claim, data)
    return data


def _prompt(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    alerts: list[IncidentAlert],
    data: dict[str, object],
) -> dict[str, object]:
    """Ask once per "all resolved" moment whether to resolve the incident."""
    stamp = _stamp(alerts)
    everything_resolved = bool(alerts) and all(a.status == "resolved" for a in alerts)
    if not incident.is_open or not everything_resolved or data.get("prompted") == stamp:
        return data
    assert incident.channel_id is not None
    text = render("alerts_resolved.j2", incident=incident, who=incident.commander_id)
    incident_posts.post_once(
        ctx,
        incident.channel_id,
        text=text,
        blocks_=blocks.as_dicts(alert_blocks.resolved_prompt_blocks(text, incident)),
        event_type=str(MetadataType.ALERTS_RESOLVED),
        payload={"reference": incident.reference, "stamp": stamp},
        look_first=claim.attempts > 1,
        since=ctx.clock.now() - timedelta(hours=1),
    )
    data = {**data, "prompted": stamp}
    _save(ctx, claim, data)
    return data


def monitoring_back(ctx: Context, source: str) -> None:
    """Tell the announcement channel that a silent source sends heartbeats again."""
    destination = announcement_channel.resolve(ctx)
    if destination is None:
        log.warning("alert source %s is back, and there is no channel to say so", source)
        return
    text = render("monitoring_back.j2", source=source)
    ctx.slack.post_message(destination, text=text, blocks=blocks.as_dicts(blocks.text_blocks(text)))


def monitoring_silent(
    ctx: Context,
    source: str,
    *,
    alertname: str,
    since: datetime | None,
    every: str,
    reference: str | None,
    key: str,
) -> None:
    """Warn the announcement channel that a source's heartbeat stopped (exactly once)."""
    destination = announcement_channel.resolve(ctx)
    if destination is None:
        log.error("alert source %s has gone silent, and there is no channel to say so", source)
        return
    text = render(
        "monitoring_silent.j2",
        source=source,
        alertname=alertname,
        since=since,
        every=every,
        reference=reference,
    )
    incident_posts.post_once(
        ctx,
        destination,
        text=text,
        blocks_=None,
        event_type=str(MetadataType.MONITORING),
        payload={"source": source, "key": key},
        look_first=True,
        since=ctx.clock.now() - timedelta(hours=1),
        join=True,
    )
