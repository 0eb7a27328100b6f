"""Monitoring that has gone quiet: a source whose heartbeat alert stopped arriving.

Each sweep looks at the sources that declare a heartbeat. The first replica to see one
overdue marks it silent (a conditional UPDATE: exactly one wins), declares the "monitoring
silent" incident in that same transaction if the policy asks, and the announcement
channel is warned until Slack has the warning. The next heartbeat ends it
(`alert_routing.beat`), and the channel is told that monitoring is back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from bot.alert_policy import Heartbeat
from bot.context import Context
from bot.flows import alert_board, channel_setup
from bot.models import AlertSource, Incident
from bot.policy import format_duration
from bot.services import alert_routing
from bot.services.declaration import DeclareInput, declare
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def check(ctx: Context) -> int:
    """Warn about every source whose heartbeat is overdue; returns how many are silent."""
    silent = 0
    for name, source in ctx.policy.alerts.sources.items():
        if source.heartbeat is not None and _check_one(ctx, name, source.heartbeat):
            silent += 1
    return silent


def _check_one(ctx: Context, name: str, heartbeat: Heartbeat) -> bool:
    now = ctx.clock.now()
    with ctx.db.session() as session:
        # The common case, a recent heartbeat, is one read and no write.
        seen = session.get(AlertSource, name)
        if seen is not None and seen.silent_since is None:
            heard = seen.last_heartbeat_at or seen.updated_at
            if heard + heartbeat.expect_every >= now:
                return False
    with ctx.db.session() as session:
        state = alert_routing.source_state(session, name, now)
        # Never heard from: counted from when the bot first looked (the row's creation).
        heard = state.last_heartbeat_at or state.updated_at
        if state.silent_since is None and heard + heartbeat.expect_every >= now:
            return False
        if state.silent_since is None:
            incident = _declare(ctx, session, name, heartbeat, now) if heartbeat.declare else None
            table = AlertSource.__table__  # type: ignore[attr-defined]
            session.execute(
                update(table)
                .where(table.c.source == name, table.c.silent_since.is_(None))
                .values(
                    silent_since=now,
                    silent_incident_id=incident.id if incident else None,
                    updated_at=now,
                )
            )
            session.flush()
            session.refresh(state)
        if state.warned_at is not None:
            return True
        since = state.last_heartbeat_at
        silent_since = state.silent_since
        incident_id = state.silent_incident_id
        reference = None
        if incident_id is not None:
            row = session.get(Incident, incident_id)
            reference = row.reference if row else None
    assert silent_since is not None
    if incident_id is not None:
        channel_setup.run_for(ctx, incident_id)
    try:
        alert_board.monitoring_silent(
            ctx,
            name,
            alertname=heartbeat.alertname,
            since=since,
            every=format_duration(heartbeat.expect_every),
            reference=reference,
            key=silent_since.isoformat(),
        )
    except SlackCallFailed as exc:
        log.warning("alert source %s is silent; the warning did not reach Slack: %s", name, exc)
        return True
    with ctx.db.session() as session:
        table = AlertSource.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table)
            .where(table.c.source == name, table.c.silent_since == silent_since)
            .values(warned_at=now)
        )
    log.error("alert source %s: no heartbeat since %s", name, since or "ever")
    return True


def _declare(
    ctx: Context, session: Session, name: str, heartbeat: Heartbeat, now: datetime
) -> Incident:
    data = DeclareInput(
        title=f"Monitoring silent: no heartbeat from {name}",
        description=(
            f"The alert source {name} has sent no {heartbeat.alertname} heartbeat for "
            f"{format_duration(heartbeat.expect_every)}. Alerts from it may not be arriving: "
            "check the monitoring pipeline (Prometheus, Alertmanager, its webhook to this bot)."
        ),
        severity=ctx.policy.heartbeat_severity(heartbeat.severity),
        category=ctx.policy.alerts.default_category or ctx.policy.categories[0],
        impact="high",
        urgency="high",
        affected_services=f"monitoring ({name})",
    )
    return declare(
        session=session,
        data=data,
        reporter_id="",
        policy=ctx.policy,
        now=now,
        declared_via=alert_routing.actor(name),
    )
