"""Setting an incident up in Slack: channel, invite, topic, pinned summary, announcement.

Each step stands alone. A step records its result as soon as it succeeds; one that Slack
refuses for good (a guest who cannot be invited, an archived announcement channel) is
recorded as a set-up problem, on the timeline and in `Incident.setup_problems`, and is not
retried; one that fails for a while (a rate limit, an outage) is retried by the scheduler
on a bounded schedule (`slack_refusals.RETRY_DELAYS`), or at once by *Retry now*. Either
way the other steps still run: only a step that needs another (the pin needs the summary;
everything needs the channel) waits for it, or is skipped when that one failed for good.

Steps that create something look for what an earlier, failed attempt may have made before
creating it again, so nothing is created twice. The confirmation to the reporter comes
last, once nothing is left to retry, and carries whatever could not be done; while a step
waits for a retry the reporter has a notice instead (`setup_reports`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from bot import blocks
from bot.context import Context
from bot.flows import setup_reports, setup_steps, slack_refusals
from bot.flows.setup_reports import STEP_WORDS, explain
from bot.flows.setup_steps import notify_targets
from bot.ids import MetadataType
from bot.models import Incident, ScheduledTask, TaskKind, TaskState
from bot.services import disclosure, task_schedule, tasks
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

# A run starts no new step after this long (half the task's lease), so a slow Slack cannot
# keep it going until another process claims the task too; the next run does the rest.
RUN_BUDGET_SECONDS = tasks.DEFAULT_LEASE.total_seconds() / 2

# The steps in order; the confirmation follows them.
STEPS = ("channel", "invite", "topic", "summary", "pin", "announcement")
# What a step cannot do without.
NEEDS = {
    "invite": "channel",
    "topic": "channel",
    "summary": "channel",
    "pin": "summary",
    "announcement": "channel",
}

__all__ = [
    "STEP_WORDS",
    "Outcome",
    "explain",
    "notify_targets",
    "provision",
    "run_claimed",
    "run_for",
]


@dataclass(frozen=True)
class Outcome:
    """What a provisioning run did."""

    incident_id: int
    done: bool  # nothing left to retry: every step done or recorded as a problem
    failed_step: str | None = None  # the first step left to retry, and why
    error: SlackCallFailed | None = None
    pending: tuple[str, ...] = ()
    retry_after: timedelta | None = None
    failures: dict[str, SlackCallFailed] = field(default_factory=dict)


# -- what is left ---------------------------------------------------------------------


def _announces(ctx: Context, incident: Incident) -> bool:
    return ctx.policy.announcement_channel is not None and disclosure.may_announce(incident)


def _done(ctx: Context, incident: Incident, step: str) -> bool:
    if step == "channel":
        return incident.channel_id is not None
    if step == "invite":
        # Declared by monitoring or the command line: no person to invite.
        return incident.reporter_invited or not incident.reporter_id
    if step == "topic":
        return incident.topic is not None
    if step == "summary":
        return incident.summary_ts is not None
    if step == "pin":
        return incident.summary_pinned
    if step == "announcement":
        return not _announces(ctx, incident) or incident.announcement_ts is not None
    return incident.confirmation_sent or not incident.reporter_id


def _to_do(ctx: Context, incident: Incident, step: str) -> bool:
    """Whether a step should run: not done (the topic: not current), not given up on."""
    if step in incident.setup_problems:
        return False
    if step == "topic":
        return incident.topic != blocks.topic_text(incident, ctx.policy)
    return not _done(ctx, incident, step)


def _blocker(ctx: Context, incident: Incident, step: str) -> str | None:
    """The step this one waits for (the one nearest the channel), if any."""
    needs: list[str] = []
    need = NEEDS.get(step)
    while need is not None:
        needs.insert(0, need)
        need = NEEDS.get(need)
    return next((need for need in needs if not _done(ctx, incident, need)), None)


def _pending(ctx: Context, incident: Incident) -> list[str]:
    """Steps still to retry: to do, and not waiting for a step that failed for good."""
    left = []
    for step in STEPS:
        blocker = _blocker(ctx, incident, step)
        if _to_do(ctx, incident, step) and blocker not in incident.setup_problems:
            left.append(step)
    return left


def _skipped(ctx: Context, incident: Incident) -> dict[str, list[str]]:
    """Steps skipped because a step they need failed for good, by that step."""
    skipped: dict[str, list[str]] = {}
    for step in STEPS:
        blocker = _blocker(ctx, incident, step)
        if blocker in incident.setup_problems and not _done(ctx, incident, step):
            skipped.setdefault(blocker, []).append(step)
    return skipped


def _confirm(ctx: Context, incident: Incident, look_first: bool) -> Incident:
    """Send the reporter the confirmation, with whatever could not be done."""
    report = setup_reports.confirmation(ctx, incident, _skipped(ctx, incident))
    setup_steps.post_once(
        ctx,
        incident,
        incident.reporter_id,
        kind=MetadataType.CONFIRMATION,
        text=report.text,
        blocks_=report.blocks,
        look_first=look_first,
        extra={"round": incident.setup_round} if incident.setup_round else None,
    )
    incident = setup_steps.save(ctx, setup_steps.incident_id(incident), confirmation_sent=True)
    return setup_reports.mark_told(ctx, incident, report.told)


# -- a run ----------------------------------------------------------------------------


def provision(
    ctx: Context, incident_id: int, *, look_first: bool, last_attempt: bool = False
) -> Outcome:
    """Run every set-up step still to do; a failed step does not stop the others.

    `look_first` is set on retries: creating steps then check whether an earlier attempt
    made their message or channel before making it again. On the `last_attempt`, steps
    that fail for a while are given up on and recorded as problems like permanent ones.
    """
    incident = setup_steps.load(ctx, incident_id)
    failures: dict[str, SlackCallFailed] = {}
    started = time.monotonic()
    for step in STEPS:
        if not _to_do(ctx, incident, step) or _blocker(ctx, incident, step) is not None:
            continue
        if not last_attempt and time.monotonic() - started > RUN_BUDGET_SECONDS:
            log.info("%s: leaving the rest of the set-up to the next run", incident.reference)
            break
        try:
            incident = setup_steps.RUNNERS[step](ctx, incident, look_first)
        except SlackCallFailed as exc:
            failures[step] = exc
            if not slack_refusals.is_transient(exc):
                incident = setup_reports.record_problem(ctx, incident, step, exc, gave_up=False)
    if last_attempt:
        for step, failure in failures.items():
            if step not in incident.setup_problems:
                incident = setup_reports.record_problem(ctx, incident, step, failure, gave_up=True)

    if not _pending(ctx, incident) and _to_do(ctx, incident, "confirmation"):
        try:
            incident = _confirm(ctx, incident, look_first)
        except SlackCallFailed as exc:
            failures["confirmation"] = exc
            transient = slack_refusals.is_transient(exc)
            if not transient or last_attempt:
                log.warning("%s: the reporter cannot be told: %s", incident.reference, exc)
                incident = setup_reports.record_problem(
                    ctx, incident, "confirmation", exc, gave_up=transient
                )

    pending = _pending(ctx, incident)
    if not pending and _to_do(ctx, incident, "confirmation"):
        pending.append("confirmation")
    if not pending:
        setup_reports.finish(ctx, incident)
    first = next((step for step in pending if step in failures), None)
    return Outcome(
        incident_id=incident_id,
        done=not pending,
        failed_step=first,
        error=failures.get(first) if first else None,
        pending=tuple(pending),
        retry_after=slack_refusals.longest_retry_after(failures.values()),
        failures=failures,
    )


def run_claimed(ctx: Context, claim: tasks.Claim) -> Outcome:
    """Run a claimed provisioning task and record how it went."""
    try:
        incident = setup_steps.load(ctx, claim.incident_id)
        outcome = provision(
            ctx,
            claim.incident_id,
            look_first=claim.attempts > 1 or incident.setup_round > 0,
            last_attempt=claim.attempts >= slack_refusals.MAX_ATTEMPTS,
        )
    except Exception as exc:
        with ctx.db.session() as session:
            tasks.release(session=session, claim=claim, now=ctx.clock.now(), error=repr(exc))
        raise
    now = ctx.clock.now()
    with ctx.db.session() as session:
        if outcome.done:
            tasks.complete(session=session, claim=claim, now=now)
            return outcome
        delay = slack_refusals.retry_delay(claim.attempts, outcome.retry_after)
        due = tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=f"{outcome.failed_step}: {outcome.error}",
            retry_after=delay or slack_refusals.RETRY_DELAYS[-1],
        )
    log.warning(
        "incident %s: set-up step %s failed (%s); attempt %s of %s, next %s",
        claim.incident_id,
        outcome.failed_step,
        outcome.error,
        claim.attempts,
        slack_refusals.MAX_ATTEMPTS,
        due,
    )
    incident = setup_steps.load(ctx, claim.incident_id)
    setup_reports.tell_pending(
        ctx,
        incident,
        outcome.failures,
        [step for step in outcome.pending if step not in outcome.failures],
        _skipped(ctx, incident),
        due,
    )
    return outcome


def _restart(ctx: Context, incident_id: int, task_id: int) -> bool:
    """Let a person's *Retry now* try every step again, problems included.

    A finished set-up starts a new round (its own confirmation), with the task due now;
    a pending one keeps its round and attempts. False when there is nothing to do again.
    """
    now = ctx.clock.now()
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, task_id, with_for_update=True)
        incident = session.get(Incident, incident_id)
        assert task is not None and incident is not None
        finished = task.state != TaskState.PENDING
        if finished and not incident.setup_problems and not _lacking(ctx, incident):
            return False
        if incident.setup_problems:
            incident.setup_problems = {}
            incident.updated_at = now
            session.add(incident)
        if finished:
            incident.setup_round += 1
            incident.confirmation_sent = False
            incident.updated_at = now
            session.add(incident)
            task_schedule.arm(
                session=session,
                incident_id=incident_id,
                kind=TaskKind.PROVISION,
                due_at=now,
                now=now,
            )
    return True


def _lacking(ctx: Context, incident: Incident) -> list[str]:
    return [step for step in STEPS if _to_do(ctx, incident, step)]


def run_for(ctx: Context, incident_id: int) -> Outcome | None:
    """Run an incident's set-up at once (again, after it finished with problems).

    None when there is nothing to do or another process holds the task.
    """
    with ctx.db.session() as session:
        task_id = task_schedule.find(
            session=session, incident_id=incident_id, kind=TaskKind.PROVISION
        )
    if task_id is None or not _restart(ctx, incident_id, task_id):
        return None
    return tasks.claim_and_run(
        db=ctx.db, task_id=task_id, now=ctx.clock.now(), run=lambda c: run_claimed(ctx, c)
    )
