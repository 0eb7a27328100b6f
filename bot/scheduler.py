"""The sweep: one APScheduler interval job that claims due task rows and runs them.

The database holds every due time; APScheduler only ticks. Any number of processes may
sweep together: each task row is claimed by one of them at a time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.context import Context
from bot.flows import (
    alert_board,
    alert_heartbeats,
    alert_intake,
    alert_silences,
    channel_setup,
    effect_delivery,
    event_recording,
    outbound_delivery,
    process_reporting,
    process_survey,
    reminder_delivery,
    review_generation,
    stakeholder_delivery,
)
from bot.flows.event_recording import processor
from bot.models import TaskKind
from bot.services import alert_inbox, event_inbox, heartbeats, tasks

log = logging.getLogger(__name__)

Runner = Callable[[Context, tasks.Claim], object]
# Emails (and pages) sent or waiting for a thread at once, per kind: a dead mail server
# holds at most this many outbound threads, and pages have threads of their own.
OUTBOUND_IN_FLIGHT = 2

RUNNERS: dict[str, Runner] = {
    TaskKind.PROVISION: channel_setup.run_claimed,
    TaskKind.NAG: reminder_delivery.run_claimed,
    TaskKind.RESPONSE: reminder_delivery.run_claimed,
    TaskKind.ESCALATION: reminder_delivery.run_claimed,
    TaskKind.RESOLUTION: reminder_delivery.run_claimed,
    TaskKind.STALE: reminder_delivery.run_claimed,
    TaskKind.PIR: review_generation.run_claimed,
    TaskKind.PIR_REVIEW: reminder_delivery.run_claimed,
    TaskKind.ACTION_OVERDUE: reminder_delivery.run_claimed,
    TaskKind.ROLE_INVITE: effect_delivery.run_invite,
    TaskKind.SLACK_POST: effect_delivery.run_post,
    TaskKind.SLACK_REFRESH: effect_delivery.run_refresh,
    TaskKind.ALERT_BOARD: alert_board.run_claimed,
    TaskKind.SILENCE_EXPIRE: alert_silences.run_expire,
    TaskKind.SILENCED_CHECK: alert_silences.run_check,
    TaskKind.SURVEY: process_survey.run_claimed,
    TaskKind.EMAIL: outbound_delivery.run_email,
    TaskKind.PAGE: outbound_delivery.run_page,
    TaskKind.STAKEHOLDER: stakeholder_delivery.run_claimed,
}


def sweep(ctx: Context, *, limit: int = 50, long_running: int = 2) -> int:
    """Start sending due emails and pages, record held and failed events, then claim and
    run every due task (up to `limit`, plus up to `long_running` review drafts, each
    claimed on its own)."""
    now = ctx.clock.now()
    with ctx.db.single_statement() as connection:
        heartbeats.beat(connection, ctx.process_id, now)
    # First: it only hands them to the outbound pool, so no Slack work below delays them.
    ran = _send_outbound(ctx)
    # Neither needs Slack: the bot's user ID comes from each stored event's envelope.
    event_inbox.drain(ctx.db, now=now, process=processor(ctx))
    event_recording.adopt(ctx)
    event_inbox.purge(ctx.db, now=now)
    if ctx.policy.alerts.sources:
        # Alerts this or another replica stored and did not finish (a crash, Slack down).
        alert_intake.drain(ctx, until_empty=True)
        alert_heartbeats.check(ctx)
        alert_inbox.purge(ctx.db, now=now, keep=ctx.policy.alerts.retention)
    if ctx.policy.reports:
        process_reporting.run_due(ctx)
    claims = tasks.claim_due(db=ctx.db, now=now, limit=limit)
    for claim in claims:
        _run(ctx, claim)
    # And those the batch handed over (a stakeholder update's email) go out now too.
    ran += len(claims) + _send_outbound(ctx)
    for _ in range(long_running):
        claimed = tasks.claim_due(db=ctx.db, now=ctx.clock.now(), long_running=True)
        if not claimed:
            break
        _run(ctx, claimed[0])
        ran += 1
    return ran


def _send_outbound(ctx: Context) -> int:
    """Claim due emails and pages while fewer than OUTBOUND_IN_FLIGHT of their kind are
    under way, and send them on the outbound pool: the sweep never waits for SMTP or
    PagerDuty (`ctx.wait_idle()` does). Returns how many senders it started."""
    started = 0
    for kind in tasks.OUTBOUND:
        free = OUTBOUND_IN_FLIGHT - ctx.outbound_in_flight(kind)
        if free <= 0:
            continue
        for claim in tasks.claim_due(db=ctx.db, now=ctx.clock.now(), limit=free, kinds=(kind,)):
            ctx.defer_outbound(kind, functools.partial(_send_while_due, ctx, claim))
            started += 1
    return started


def _send_while_due(ctx: Context, claim: tasks.Claim) -> None:
    """Send a claimed email or page, then claim and send the next due one of its kind, until
    none is due or the process stops: a backlog drains at once, not OUTBOUND_IN_FLIGHT a
    sweep. (One that fails is due again only after its back-off, so this ends.)"""
    current: tasks.Claim | None = claim
    while current is not None:
        _run(ctx, current)
        if ctx.stopping.is_set():
            return  # what is still due is claimed by the next sweep, here or elsewhere
        kinds = (current.kind,)
        claimed = tasks.claim_due(db=ctx.db, now=ctx.clock.now(), limit=1, kinds=kinds)
        current = claimed[0] if claimed else None


def _run(ctx: Context, claim: tasks.Claim) -> None:
    runner = RUNNERS.get(claim.kind)
    if runner is None:
        log.error("task %s has unknown kind %r", claim.task_id, claim.kind)
        return
    try:
        runner(ctx, claim)
    except tasks.ClaimLost as lost:
        log.warning("%s before this process could give it back; it finishes there", lost)
    except Exception:
        log.exception("task %s (%s) failed", claim.task_id, claim.kind)


class Sweeper:
    """Runs `sweep` every few seconds in a background thread."""

    def __init__(self, ctx: Context, *, interval_seconds: float) -> None:
        self.ctx = ctx
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=interval_seconds,
            jitter=max(interval_seconds / 5, 0.1),
            id="sweep",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            # The first sweep runs at start, for work left over from before a restart.
            next_run_time=datetime.now(UTC),
        )

    def _tick(self) -> None:
        try:
            sweep(self.ctx)
        except Exception:  # a database blip must not stop the ticking
            log.exception("sweep failed")

    def start(self) -> None:
        """Start ticking."""
        self.scheduler.start()

    def stop(self) -> None:
        """Stop ticking; a sweep in progress finishes first."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
