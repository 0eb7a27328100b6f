"""Alerts in: store on receipt, then route each one and do its Slack part.

The endpoint stores and replies; right after, this process drains the inbox on its work
pool (and every sweep drains what is left, on any replica). Routing and its database
effects are one transaction per alert; the Slack part comes after the commit: a declared
incident's set-up and its alert list are task rows the sweeper retries, and a triage post
keeps its alert pending until Slack has it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from bot.alert_policy import Source
from bot.context import Context
from bot.flows import (
    alert_board,
    alert_triage,
    channel_setup,
    effect_delivery,
    incident_commands,
    slack_refusals,
)
from bot.models import AlertAction, AlertRecord
from bot.services import alert_inbox, alert_routing
from bot.services.alert_formats import Alert
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


class AlertIntake:
    """The alert endpoint's link to the running bot: store, then drain soon after."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    @property
    def sources(self) -> dict[str, Source]:
        """The configured alert sources."""
        return self.ctx.policy.alerts.sources

    def now(self) -> datetime:
        """The bot's clock."""
        return self.ctx.clock.now()

    def store(self, source: str, alerts: list[Alert]) -> tuple[int, int]:
        """Store the alerts (before the reply), then start handling them."""
        with self.ctx.db.session() as session:
            stored = alert_inbox.store(session, source=source, alerts=alerts, now=self.now())
        if stored.ids:
            self.kick()
        return len(stored.ids), stored.duplicates

    def kick(self) -> None:
        """Drain the inbox on the work pool; one drain at a time per process."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self.ctx.defer(self._drain_until_quiet)

    def _drain_until_quiet(self) -> None:
        try:
            while True:
                with self._lock:
                    self._again = False
                drain(self.ctx, until_empty=True)
                with self._lock:
                    if not self._again:
                        self._running = False
                        return
        except BaseException:
            with self._lock:
                self._running = False
            raise


def drain(ctx: Context, *, limit: int = 100, until_empty: bool = False) -> int:
    """Handle the alerts that are due, a batch of `limit` at a time (with `until_empty`,
    batch after batch while they come back full); returns how many were claimed."""
    total = 0
    while True:
        claims = alert_inbox.claim(ctx.db, now=ctx.clock.now(), limit=limit)
        for claim in claims:
            try:
                handle(ctx, claim)
            except Exception as exc:
                log.exception("alert %s failed; it will be retried", claim.alert_id)
                with ctx.db.session() as session:
                    alert_inbox.fail(session, claim, now=ctx.clock.now(), error=repr(exc))
        total += len(claims)
        if not until_empty or len(claims) < limit:
            return total


RECOVERED = "heartbeats resumed"


def handle(ctx: Context, claim: alert_inbox.AlertClaim) -> None:
    """Route one claimed alert (once) and do what Slack must show of it."""
    now = ctx.clock.now()
    routed: alert_routing.Routed | None = None
    with ctx.db.session() as session:
        row = alert_inbox.held(session, claim)
        if row is None:
            return
        if row.routed_at is None:
            routed = alert_routing.route(session, ctx.policy, row, now)
            row.routed_at = now
            row.action = routed.action
            row.rule = routed.rule
            row.note = RECOVERED if routed.recovered else routed.note
            row.incident_id = routed.incident_id
            session.add(row)
        # What Slack must still be told for this alert itself (kept pending until it is).
        triage = row.action == AlertAction.TRIAGE and row.slack_ts is None
        recovered = row.note == RECOVERED and not row.handled.get("told")
        if not (triage or recovered):
            alert_inbox.finish(session, claim)
        row_id, source = row.id, row.source
    assert row_id is not None
    if routed is not None:
        _after_routing(ctx, routed, source)
    if not (triage or recovered):
        return
    try:
        if recovered:
            alert_board.monitoring_back(ctx, source)
        else:
            alert_triage.post(ctx, row_id)
    except SlackCallFailed as exc:
        if slack_refusals.is_transient(exc):
            with ctx.db.session() as session:
                alert_inbox.fail(
                    session, claim, now=ctx.clock.now(), error=str(exc), retry_after=exc.retry_after
                )
            return
        log.error("alert %s: Slack refused its post: %s", row_id, exc.error)
    with ctx.db.session() as session:
        if recovered:
            told = session.get(AlertRecord, row_id)
            assert told is not None
            told.handled = {**told.handled, "told": True}
            session.add(told)
        alert_inbox.finish(session, claim)


def _after_routing(ctx: Context, routed: alert_routing.Routed, source: str) -> None:
    """Set a declared incident up, show the alert list, resolve when the rule says so."""
    incident_id = routed.incident_id
    if incident_id is None:
        return
    if routed.declared:
        channel_setup.run_for(ctx, incident_id)
        effect_delivery.run_now(ctx, routed.effects)
    if routed.changed:
        alert_board.run_for(ctx, incident_id)
    if routed.auto_resolve:
        effects = incident_commands.record_resolution(
            ctx,
            incident_id,
            alert_routing.actor(source),
            {
                "resolution": "Every alert resolved; resolved automatically by the alert rule "
                f"{routed.rule}.",
                "root_cause": "",
                "impact": "",
            },
        )
        effect_delivery.deliver(ctx, effects)
