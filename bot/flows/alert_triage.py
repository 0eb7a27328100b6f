"""The triage channel: alerts a person decides on, and what each button does.

A triage message is posted once (its metadata names the alert, so a retry after a lost
answer finds it instead of posting again). Its buttons declare an incident from the alert
(the declare form, pre-filled), attach it to an open incident, silence it for an hour in
Alertmanager, or ignore it; the message is then edited to say who did what.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import col, select

from bot import alert_blocks, blocks
from bot.context import Context
from bot.errors import UserError
from bot.flows import (
    alert_board,
    alert_silences,
    announcement_channel,
    incident_changes,
    incident_posts,
)
from bot.ids import MetadataType
from bot.models import AlertAction, AlertRecord, Incident
from bot.models.incident import OPEN_STATES
from bot.render import render
from bot.services import alert_routing
from bot.views.declare_modal import declare_modal_dict

log = logging.getLogger(__name__)

SILENCE = timedelta(hours=1)


def channel(ctx: Context) -> str | None:
    """The triage channel's ID: the policy's, else the announcement channel."""
    configured = ctx.policy.alerts.triage_channel
    if configured is None:
        return announcement_channel.resolve(ctx)
    return announcement_channel.channel_id(ctx, configured)


def post(ctx: Context, alert_id: int) -> None:
    """Post the alert's triage message, unless it is posted already."""
    with ctx.db.session() as session:
        row = session.get(AlertRecord, alert_id)
    if row is None or row.slack_ts is not None or row.action != AlertAction.TRIAGE:
        return
    destination = channel(ctx)
    if destination is None:
        log.error("alert %s is for triage, but no triage channel is set", alert_id)
        return
    text = alert_blocks.triage_text(row)
    where, ts = incident_posts.post_once(
        ctx,
        destination,
        text=text,
        blocks_=blocks.as_dicts(alert_blocks.triage_blocks(row, text, None)),
        event_type=str(MetadataType.ALERT_TRIAGE),
        payload={"alert": alert_id},
        look_first=row.attempts > 1,
        since=row.received_at,
        join=True,
    )
    with ctx.db.session() as session:
        saved = session.get(AlertRecord, alert_id)
        assert saved is not None
        saved.slack_channel = where
        saved.slack_ts = ts
        session.add(saved)


def _row(ctx: Context, alert_id: int) -> AlertRecord:
    with ctx.db.session() as session:
        row = session.get(AlertRecord, alert_id)
    if row is None:
        raise UserError("That alert is not known any more.")
    return row


def _mark(ctx: Context, alert_id: int, what: str, actor: str, **extra: object) -> AlertRecord:
    """Record what a person did with the alert, then show it on the triage message."""
    with ctx.db.session() as session:
        row = session.get(AlertRecord, alert_id)
        assert row is not None
        row.handled = {"what": what, "by": actor, **{k: str(v) for k, v in extra.items()}}
        session.add(row)
        session.flush()
        session.refresh(row)
        session.expunge(row)
    _show_handled(ctx, row)
    return row


def _show_handled(ctx: Context, row: AlertRecord) -> None:
    if row.slack_channel is None or row.slack_ts is None:
        return
    until = row.handled.get("until_at")
    handled = render(
        "alert_handled.j2",
        what=row.handled.get("what"),
        actor=row.handled.get("by"),
        reference=row.handled.get("reference"),
        until=datetime.fromisoformat(until) if until else None,
    )
    text = alert_blocks.triage_text(row)
    ctx.slack.update_message(
        row.slack_channel,
        row.slack_ts,
        text=text,
        blocks=blocks.as_dicts(alert_blocks.triage_blocks(row, text, handled)),
    )


def _not_handled(row: AlertRecord) -> None:
    if row.handled.get("what") in alert_blocks.FINAL:
        raise UserError("Someone has already dealt with this alert: see the message.")


def open_declare(ctx: Context, alert_id: int, trigger_id: str) -> None:
    """*Declare incident*: the declare form, filled in from the alert."""
    row = _row(ctx, alert_id)
    _not_handled(row)
    rule = ctx.policy.alerts.rule(row.rule)
    data = alert_routing.declare_input(ctx.policy, rule, row)
    view = declare_modal_dict(
        policy=ctx.policy,
        title=data.title,
        description=data.description,
        services=data.affected_services,
        alert_id=alert_id,
        origin_channel=row.slack_channel,
    )
    incident_changes.open_form(ctx, trigger_id, view)


def declared(ctx: Context, alert_id: int, incident_id: int, user: str) -> None:
    """The declare form opened from an alert was submitted: the alert joins the incident."""
    _join(ctx, alert_id, incident_id, user, "declared")


def open_attach(ctx: Context, alert_id: int, trigger_id: str) -> None:
    """*Attach to INC-…*: choose among the open incidents (private ones are not listed)."""
    row = _row(ctx, alert_id)
    _not_handled(row)
    with ctx.db.session() as session:
        incidents = list(
            session.exec(
                select(Incident)
                .where(
                    col(Incident.status).in_([str(s) for s in OPEN_STATES]),
                    col(Incident.is_private).is_(False),
                )
                .order_by(col(Incident.id).desc())
                .limit(alert_blocks.MAX_INCIDENT_OPTIONS)
            ).all()
        )
    view = alert_blocks.attach_modal(alert_id, row.title, incidents)
    incident_changes.open_form(ctx, trigger_id, view.to_dict())


def attach(ctx: Context, alert_id: int, incident_id: int, user: str) -> None:
    """The attach form was submitted."""
    _join(ctx, alert_id, incident_id, user, "attached")


def _join(ctx: Context, alert_id: int, incident_id: int, user: str, what: str) -> None:
    now = ctx.clock.now()
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        row = session.get(AlertRecord, alert_id)
        if incident is None or row is None:
            raise UserError("That incident or alert is not known any more.")
        alert_routing.attach(session, incident, row, now)
        row.incident_id = incident_id
        row.action = AlertAction.DECLARED if what == "declared" else AlertAction.ATTACHED
        session.add(row)
        reference = incident.reference
    _mark(ctx, alert_id, what, user, reference=reference)
    alert_board.run_for(ctx, incident_id)


def silence(ctx: Context, alert_id: int, user: str) -> None:
    """*Silence 1h*: a silence in Alertmanager matching the alert's labels."""
    made = alert_silences.silence_alert(ctx, alert_id, user, SILENCE)
    _mark(ctx, alert_id, "silenced", user, until_at=made.ends_at.isoformat(), id=made.silence_id)


def ignore(ctx: Context, alert_id: int, user: str) -> None:
    """*Ignore*: nothing to do (the alert stays stored)."""
    row = _row(ctx, alert_id)
    _not_handled(row)
    _mark(ctx, alert_id, "ignored", user)
