"""Silences in Alertmanager: made from a triage message or `/incident silence`, recorded,
and expired when the incident resolves.

A silence matches every label of the alert it is for, so it silences that alert and no
other. Alertmanager being down or answering 5xx is told to the person plainly, and
nothing is recorded: they can try again. Expiry at resolve is a task row, retried with
back-off until Alertmanager takes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import select

from bot.alert_policy import Source
from bot.context import Context
from bot.errors import UserError
from bot.flows import effect_delivery, incident_changes
from bot.integrations import alertmanager
from bot.models import (
    AlertRecord,
    AlertSilence,
    Incident,
    IncidentAlert,
    SilenceState,
    TaskKind,
    TimelineKind,
)
from bot.policy import format_duration, parse_duration
from bot.render import render
from bot.services import alert_inbox, effect_queue, task_schedule, tasks, timeline_entries
from bot.services.alert_formats import RESOLVED, Alert

log = logging.getLogger(__name__)

MAX_SILENCE = timedelta(days=7)
CHECK_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Made:
    """A silence made in Alertmanager."""

    silence_id: str
    ends_at: datetime


def _source(ctx: Context, name: str) -> tuple[Source, str]:
    source = ctx.policy.alerts.sources.get(name)
    if source is None or source.alertmanager_url is None:
        raise UserError(
            f"No Alertmanager is configured for the alert source `{name}`: set "
            f"`alerts.sources.{name}.alertmanager_url` in the policy to silence from Slack."
        )
    return source, source.alertmanager_url


def _make(
    ctx: Context,
    source_name: str,
    labels: dict[str, object],
    *,
    user: str,
    duration: timedelta,
    comment: str,
) -> Made:
    source, url = _source(ctx, source_name)
    now = ctx.clock.now()
    matchers = [alertmanager.Matcher(str(k), str(v)) for k, v in sorted(labels.items())]
    if not matchers:
        raise UserError("That alert has no labels to match: silence it in Alertmanager itself.")
    who = ctx.slack.user(user)
    created_by = f"{who.name if who else user} via Slack ({user})"
    try:
        silence_id = alertmanager.create_silence(
            url,
            source.alertmanager_token(),
            matchers=matchers,
            starts_at=now,
            ends_at=now + duration,
            created_by=created_by,
            comment=comment,
        )
    except alertmanager.AlertmanagerError as exc:
        log.warning("silence for %s failed: %s", source_name, exc.reason)
        raise UserError(
            f"Nothing was silenced: {exc.reason} (at {url}). Try again in a moment."
        ) from None
    return Made(silence_id, now + duration)


def _record(
    ctx: Context,
    *,
    source: str,
    made: Made,
    user: str,
    labels: dict[str, object],
    incident_id: int | None,
    alert_id: int | None,
) -> None:
    now = ctx.clock.now()
    with ctx.db.session() as session:
        session.add(
            AlertSilence(
                source=source,
                silence_id=made.silence_id,
                incident_id=incident_id,
                alert_id=alert_id,
                created_by=user,
                matchers=dict(labels),
                starts_at=now,
                ends_at=made.ends_at,
                created_at=now,
            )
        )
        if incident_id is not None:
            task_schedule.arm(
                session=session,
                incident_id=incident_id,
                kind=TaskKind.SILENCED_CHECK,
                due_at=now + CHECK_EVERY,
                now=now,
            )
            timeline_entries.record(
                session,
                incident_id,
                TimelineKind.SILENCE,
                now=now,
                actor=user,
                text=f"Silenced in Alertmanager until {made.ends_at:%Y-%m-%d %H:%M} UTC",
                data={"source": source, "silence_id": made.silence_id, "labels": dict(labels)},
            )


def _silence(
    ctx: Context,
    source: str,
    labels: dict[str, object],
    *,
    user: str,
    duration: timedelta,
    comment: str,
    incident_id: int | None,
    alert_id: int | None,
) -> Made:
    """Make the silence in Alertmanager, then record it (and put it on the timeline)."""
    made = _make(ctx, source, labels, user=user, duration=duration, comment=comment)
    _record(
        ctx,
        source=source,
        made=made,
        user=user,
        labels=labels,
        incident_id=incident_id,
        alert_id=alert_id,
    )
    return made


def silence_alert(ctx: Context, alert_id: int, user: str, duration: timedelta) -> Made:
    """Silence one alert (the triage message's *Silence 1h*)."""
    with ctx.db.session() as session:
        row = session.get(AlertRecord, alert_id)
    if row is None:
        raise UserError("That alert is not known any more.")
    comment = f"Silenced from the triage message of alert {row.title[:200]!r}."
    if row.incident_id is not None:
        comment += f" Incident {row.incident_id}."
    return _silence(
        ctx,
        row.source,
        row.labels,
        user=user,
        duration=duration,
        comment=comment,
        incident_id=row.incident_id,
        alert_id=row.id,
    )


def parse_silence_duration(args: str) -> timedelta:
    """`/incident silence <duration>`: how long (default 1h, at most 7 days)."""
    text = args.strip() or "1h"
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        raise UserError(f"{exc}. Write it like `/incident silence 2h`.") from None
    if duration > MAX_SILENCE:
        raise UserError("A silence from Slack lasts at most 7 days.")
    return duration


def silence_incident(ctx: Context, channel_id: str, user: str, args: str) -> None:
    """`/incident silence <duration>`: silence the incident's firing alerts, until it
    resolves (or the duration passes)."""
    duration = parse_silence_duration(args)
    incident = incident_changes.incident_in(ctx, channel_id)
    if not incident.is_open:
        raise UserError(f"{incident.reference} is {incident.status}: nothing to silence.")
    with ctx.db.session() as session:
        firing = list(
            session.exec(
                select(IncidentAlert).where(
                    IncidentAlert.incident_id == incident.id, IncidentAlert.status == "firing"
                )
            ).all()
        )
    if not firing:
        raise UserError(f"{incident.reference} has no firing alerts to silence.")
    made: list[Made] = []
    for held in firing:
        comment = f"Incident {incident.reference}: silenced for {format_duration(duration)}."
        made.append(
            _silence(
                ctx,
                held.source,
                held.labels,
                user=user,
                duration=duration,
                comment=comment,
                incident_id=incident.id,
                alert_id=None,
            )
        )
    text = render(
        "silence_created.j2",
        actor=user,
        count=len(made),
        incident=incident,
        until=made[0].ends_at,
        ids=[m.silence_id for m in made],
    )
    now = ctx.clock.now()
    assert incident.id is not None
    with ctx.db.session() as session:
        note = effect_queue.post(session, incident.id, to=effect_queue.CHANNEL, text=text, now=now)
    effect_delivery.deliver(ctx, [note])


def run_expire(ctx: Context, claim: tasks.Claim) -> None:
    """Expire the active silences of a resolved incident (a claimed SILENCE_EXPIRE task)."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        active = list(
            session.exec(
                select(AlertSilence).where(
                    AlertSilence.incident_id == claim.incident_id,
                    AlertSilence.state == SilenceState.ACTIVE,
                )
            ).all()
        )
    failure: alertmanager.AlertmanagerError | None = None
    for silence in active:
        source = ctx.policy.alerts.sources.get(silence.source)
        if silence.ends_at > now and source is not None and source.alertmanager_url:
            try:
                alertmanager.delete_silence(
                    source.alertmanager_url, source.alertmanager_token(), silence.silence_id
                )
            except alertmanager.AlertmanagerError as exc:
                failure = exc
                continue
        with ctx.db.session() as session:
            row = session.get(AlertSilence, silence.id)
            assert row is not None
            row.state = SilenceState.EXPIRED
            row.expired_at = now
            session.add(row)
            timeline_entries.record(
                session,
                claim.incident_id,
                TimelineKind.SILENCE,
                now=now,
                actor=None,
                text=f"Silence {silence.silence_id} ended (the incident resolved)",
                data={"source": silence.source, "silence_id": silence.silence_id},
            )
    with ctx.db.session() as session:
        if failure is None:
            tasks.complete(session=session, claim=claim, now=now)
        else:
            tasks.release(session=session, claim=claim, now=now, error=failure.reason)


def run_check(ctx: Context, claim: tasks.Claim) -> None:
    """While an incident's alerts are silenced, ask each Alertmanager which of them it
    still holds: one that is gone has resolved (Alertmanager mutes that notification too),
    and is stored as a resolved notification, routed like any other."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        incident = session.get(Incident, claim.incident_id)
        silenced = session.exec(
            select(AlertSilence.id).where(
                AlertSilence.incident_id == claim.incident_id,
                AlertSilence.state == SilenceState.ACTIVE,
                AlertSilence.ends_at > now,
            )
        ).first()
        firing = list(
            session.exec(
                select(IncidentAlert).where(
                    IncidentAlert.incident_id == claim.incident_id,
                    IncidentAlert.status == "firing",
                )
            ).all()
        )
    if incident is None or not incident.is_open or silenced is None or not firing:
        with ctx.db.session() as session:
            tasks.complete(session=session, claim=claim, now=now)
        return
    gone: list[IncidentAlert] = []
    try:
        for name in sorted({held.source for held in firing}):
            source = ctx.policy.alerts.sources.get(name)
            if source is None or source.alertmanager_url is None:
                continue
            present = alertmanager.active_fingerprints(
                source.alertmanager_url, source.alertmanager_token()
            )
            gone.extend(h for h in firing if h.source == name and h.fingerprint not in present)
    except alertmanager.AlertmanagerError as exc:
        with ctx.db.session() as session:
            tasks.release(session=session, claim=claim, now=now, error=exc.reason)
        return
    if gone:
        from bot.flows import alert_intake  # noqa: PLC0415 - alert_intake imports this module

        with ctx.db.session() as session:
            for held in gone:
                alert_inbox.store(
                    session,
                    source=held.source,
                    alerts=[_resolved(held, now)],
                    now=now,
                )
        alert_intake.drain(ctx, until_empty=True)
    with ctx.db.session() as session:
        tasks.postpone(session=session, claim=claim, due=now + CHECK_EVERY, now=now)


def _resolved(held: IncidentAlert, now: datetime) -> Alert:
    """A resolved notification for an alert Alertmanager no longer holds."""
    return Alert(
        fingerprint=held.fingerprint,
        status=RESOLVED,
        starts_at=held.starts_at,
        ends_at=now,
        name=held.name,
        title=held.title,
        description="",
        severity=str(held.labels.get("severity", "")),
        service=str(held.labels.get("service", "")),
        link=held.link,
        labels={str(k): str(v) for k, v in held.labels.items()},
        annotations={"note": "no longer in Alertmanager while silenced"},
    )
