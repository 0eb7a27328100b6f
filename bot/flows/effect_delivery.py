"""Carrying out what a committed change owes Slack (see `bot.services.effect_queue`).

Each effect is a claimed task. A post renews its claim, looks for itself first when tried
again (its message metadata names the effect) and is marked done only while the claim
holds, so it lands once. A refresh renders the summary, topic and announcement from the
incident as it is when it runs, and is done only if no change was made meanwhile (it goes
round again otherwise), so the channel never ends up showing an older state. A transient
failure gives the task back for the sweeper, on the set-up's schedule (15 s, 30 s, … 15
min, 11 attempts, or Slack's Retry-After); after the last attempt, or on a refusal, the
effect is given up, recorded on the timeline and, where the channel can be told, told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot import blocks
from bot.context import Context
from bot.errors import UserError
from bot.flows import channel_invites, incident_posts, slack_refusals
from bot.models import Incident, PublicUpdate, ScheduledTask, StatusUpdate, TaskKind
from bot.render import Slack, mention, render
from bot.services import disclosure, effect_queue, incident_queries, tasks
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

# A post for a channel that is still being set up waits this long before looking again.
CHANNEL_WAIT = timedelta(seconds=15)
REFRESH_ROUNDS = 3
# How long an edit Slack timed out on may still land; a refresh runs again after it.
LATE_WINDOW = timedelta(minutes=1)
SLOW = "Saved. Slack is slow right now: the channel will catch up on its own."


class SlackIsSlow(UserError):
    """A change is saved but Slack has not shown all of it yet (the sweeper will)."""

    def __init__(self) -> None:
        super().__init__(SLOW)


def run_now(ctx: Context, task_ids: Iterable[int]) -> bool:
    """Carry out these effects at once, in order; False if any is left for the sweeper.

    An effect another process holds right now is its to finish, and counts as under way.
    """
    done = True
    for task_id in task_ids:
        ran = tasks.claim_and_run(
            db=ctx.db, task_id=task_id, now=ctx.clock.now(), run=lambda c: _run_effect(ctx, c)
        )
        if ran is False:  # None: another process holds it, and it counts as under way
            done = False
    return done


def _run_effect(ctx: Context, claim: tasks.Claim) -> bool:
    runner = RUNNERS.get(claim.kind)
    return runner is not None and runner(ctx, claim)


def deliver(ctx: Context, task_ids: Iterable[int]) -> None:
    """`run_now`, telling the person when Slack is behind (never "try again")."""
    if not run_now(ctx, task_ids):
        raise SlackIsSlow


def _finish(ctx: Context, claim: tasks.Claim) -> bool:
    with ctx.db.session() as session:
        return tasks.complete(session=session, claim=claim, now=ctx.clock.now())


def failed_effect(
    ctx: Context, claim: tasks.Claim, incident: Incident, exc: SlackCallFailed, what: str
) -> bool:
    """Give the effect back to retry later, or give it up and say so; always False."""
    now = ctx.clock.now()
    transient = slack_refusals.is_transient(exc)
    delay = slack_refusals.retry_delay(claim.attempts, exc.retry_after) if transient else None
    with ctx.db.session() as session:
        tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=str(exc),
            retry_after=delay,
            give_up=delay is None,
        )
    if delay is not None:
        log.warning("%s: %s not shown yet (%s); next in %s", incident.reference, what, exc, delay)
        return False
    incident_posts.report_refusal(
        ctx,
        incident,
        exc,
        what,
        data={"task": claim.task_id},
        place="incident",
        attempts=claim.attempts,
        note="The change itself is saved.",
        tell=what != "a post in the channel",
    )
    return False


# -- posts ---------------------------------------------------------------------------


def _destination(incident: Incident, to: str) -> tuple[str | None, str | None, str]:
    """(conversation, thread ts, words for it) of a post; no conversation: nothing to do."""
    if to == effect_queue.CHANNEL:
        return incident.channel_id, None, "a post in the channel"
    if to == effect_queue.THREAD:
        if not disclosure.may_announce(incident) or incident.announcement_ts is None:
            return None, None, "a post under the announcement"
        return (
            incident.announcement_channel_id,
            incident.announcement_ts,
            ("a post under the announcement"),
        )
    return to, None, Slack(f"a direct message to {mention(to)}")


def run_post(ctx: Context, claim: tasks.Claim) -> bool:
    """Post what a change owes Slack, exactly once; True when done."""
    loaded = tasks.load(ctx.db, claim)
    if loaded is None:
        return _finish(ctx, claim)
    task, incident = loaded
    to = str(task.data.get("to") or effect_queue.CHANNEL)
    conversation, thread_ts, what = _destination(incident, to)
    if conversation is None:
        if to == effect_queue.CHANNEL or (
            to == effect_queue.THREAD
            and disclosure.may_announce(incident)
            and incident.provisioned_at is None
        ):  # the channel, or the announcement, is still being set up
            with ctx.db.session() as session:
                tasks.postpone(
                    session=session,
                    claim=claim,
                    due=ctx.clock.now() + CHANNEL_WAIT,
                    now=ctx.clock.now(),
                )
            return False
        return _finish(ctx, claim)  # no announcement to copy under
    text = str(task.data.get("text") or "")
    kind = str(task.data.get("kind") or "incident_notice")
    button, own = task.data.get("button"), task.data.get("blocks")
    shown = own if isinstance(own, list) else None
    if isinstance(button, dict):
        shown = blocks.as_dicts(
            blocks.with_button(
                text, str(button["action_id"]), str(button["label"]), str(button["value"])
            )
        )
    try:
        if not tasks.renew(db=ctx.db, claim=claim, now=ctx.clock.now()):
            return False  # another process took it over; it will finish it
        _, ts = incident_posts.post_once(
            ctx,
            conversation,
            text=text,
            blocks_=shown,
            event_type=kind,
            payload={"reference": incident.reference, "effect": task.id},
            look_first=claim.attempts > 1,
            since=task.created_at,
            thread_ts=thread_ts,
        )
        if to == effect_queue.CHANNEL:
            ctx.slack.identity()  # known before the timeline's transaction needs it
    except SlackCallFailed as exc:
        return failed_effect(ctx, claim, incident, exc, what)
    _recorded(ctx, claim, task, incident, ts, to == effect_queue.CHANNEL, text, kind)
    return _finish(ctx, claim)


def _recorded(
    ctx: Context,
    claim: tasks.Claim,
    task: ScheduledTask,
    incident: Incident,
    ts: str,
    in_channel: bool,
    text: str,
    kind: str,
) -> None:
    """Put a channel post on the timeline, and a status update's post or a public update's
    approval request on its row."""
    if not in_channel or incident.channel_id is None or incident.id is None:
        return
    with ctx.db.session() as session:
        incident_posts.record_own_post(ctx, session, incident, ts, text, kind)
        update_id = task.data.get("update_id")
        if isinstance(update_id, int):
            update = session.get(StatusUpdate, update_id)
            if update is not None:
                update.channel_ts = ts
                session.add(update)
        public_update_id = task.data.get("public_update_id")
        if isinstance(public_update_id, int):
            public = session.get(PublicUpdate, public_update_id)
            if public is not None:
                public.approval_channel, public.approval_ts = incident.channel_id, ts
                session.add(public)


# -- refreshes -----------------------------------------------------------------------


def run_refresh(ctx: Context, claim: tasks.Claim) -> bool:
    """Show the incident as it is now in its summary, topic and announcement; True when
    what Slack shows is the latest state.

    An edit whose outcome Slack left unknown (a timeout) may still land later, carrying
    what was current then: the refresh then runs once more after `LATE_WINDOW`, whatever
    other refreshes do meanwhile, so that the last edit to land is a current one.
    """
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, claim.task_id)
        # After an edit with an unknown outcome the recorded topic may not be Slack's.
        unsure = task is not None and "settle_after" in task.data
    for _ in range(REFRESH_ROUNDS):
        incident, holders = incident_posts.load(ctx, claim.incident_id)
        if incident.channel_id is None:
            return _finish(ctx, claim)  # the set-up posts the state it finds
        try:
            if not tasks.renew(db=ctx.db, claim=claim, now=ctx.clock.now()):
                return False
            _show(ctx, incident, holders, force_topic=unsure)
        except SlackCallFailed as exc:
            if exc.unknown_outcome:
                _settle_after(ctx, claim, ctx.clock.now() + LATE_WINDOW)
            return failed_effect(ctx, claim, incident, exc, "the refresh of the summary and topic")
        now = ctx.clock.now()
        with ctx.db.session() as session:
            # The row lock orders this with a change: one made meanwhile is seen here, and
            # one made after finds this refresh done and arms it again.
            fresh = incident_queries.lock(session, claim.incident_id)
            if fresh.revision != incident.revision:
                continue
            task = session.get(ScheduledTask, claim.task_id)
            settle = _moment(task.data.get("settle_after")) if task is not None else None
            if settle is not None and now < settle:
                # Shown, but an edit Slack timed out on may land until then: once more then.
                tasks.postpone(session=session, claim=claim, due=settle, now=now)
                return True
            if task is not None and settle is not None and task.claim_token == claim.token:
                task.data = {k: v for k, v in task.data.items() if k != "settle_after"}
                session.add(task)
                session.flush()
            return tasks.complete(session=session, claim=claim, now=now)
    with ctx.db.session() as session:
        tasks.postpone(session=session, claim=claim, due=ctx.clock.now(), now=ctx.clock.now())
    return False


def _settle_after(ctx: Context, claim: tasks.Claim, moment: datetime) -> None:
    with ctx.db.session() as session:
        task = session.get(ScheduledTask, claim.task_id)
        if task is not None:
            data = {**task.data, "settle_after": moment.isoformat()}
            tasks.save_progress(session=session, claim=claim, data=data, now=ctx.clock.now())


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _show(
    ctx: Context, incident: Incident, holders: dict[str, str], *, force_topic: bool = False
) -> None:
    assert incident.channel_id is not None and incident.id is not None
    severity = ctx.policy.severity(incident.severity)
    if incident.summary_ts is not None:
        ctx.slack.update_message(
            incident.channel_id,
            incident.summary_ts,
            text=blocks.summary_text(incident, ctx.policy),
            blocks=blocks.as_dicts(blocks.summary_blocks(incident, ctx.policy, holders)),
        )
    topic = blocks.topic_text(incident, ctx.policy)
    if incident.topic is not None and (force_topic or topic != incident.topic):
        ctx.slack.set_topic(incident.channel_id, topic)
        with ctx.db.session() as session:
            row = session.get(Incident, incident.id)
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


# -- invites -------------------------------------------------------------------------


def run_invite(ctx: Context, claim: tasks.Claim) -> bool:
    """Add a new role holder to the channel; True when done (added, or refused for good).

    A refusal (a guest, someone from another organisation) is told in the channel in plain
    words; a transient failure is retried on the set-up's schedule, and told once given up.
    """
    loaded = tasks.load(ctx.db, claim)
    if loaded is None:
        return _finish(ctx, claim)
    _, incident = loaded
    if incident.channel_id is None:
        with ctx.db.session() as session:
            now = ctx.clock.now()
            tasks.postpone(session=session, claim=claim, due=now + CHANNEL_WAIT, now=now)
        return False
    outcome = channel_invites.invite(ctx, incident, _people(ctx, claim.key))
    now = ctx.clock.now()
    assert incident.id is not None
    note: int | None = None
    with ctx.db.session() as session:
        if outcome.complete:
            done = tasks.complete(session=session, claim=claim, now=now)
            text = channel_invites.refusal_text(incident, outcome)
        else:
            assert outcome.error is not None
            delay = slack_refusals.retry_delay(claim.attempts, outcome.retry_after)
            tasks.release(
                session=session,
                claim=claim,
                now=now,
                error=str(outcome.error),
                retry_after=delay,
                give_up=delay is None,
            )
            done = False
            text = (
                render(
                    "invite_gave_up.j2",
                    incident=incident,
                    user=claim.key,
                    reason=slack_refusals.explain(outcome.error, "incident"),
                    attempts=claim.attempts,
                )
                if delay is None
                else ""
            )
        if text:
            note = effect_queue.post(
                session, incident.id, to=effect_queue.CHANNEL, text=text, now=now
            )
    if note is not None:
        run_now(ctx, [note])
    return done


def _people(ctx: Context, target: str) -> list[str]:
    """The people an invite is for: a person, or a user group's members (an alert rule's
    responders); a group Slack cannot list is left to the invite to report."""
    if not target.startswith("S"):
        return [target]
    try:
        return ctx.slack.usergroup_members(target) or []
    except SlackCallFailed as exc:
        log.warning("user group %s could not be listed for an invite: %s", target, exc)
        if exc.transient:
            raise
        return []


def refresh_if_stale(ctx: Context, incident_id: int, revision: int | None) -> None:
    """Refresh the summary, topic and announcement when the incident changed after
    something showed `revision` of it (a set-up step that rendered an earlier state), or
    when which revision it shows is not known (None: a message an earlier attempt posted)."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        fresh = session.get(Incident, incident_id)
        if fresh is None or fresh.revision == revision:
            return
        task_id = effect_queue.refresh(session, incident_id, now)
    run_now(ctx, [task_id])


RUNNERS: dict[str, Callable[[Context, tasks.Claim], bool]] = {
    TaskKind.SLACK_POST: run_post,
    TaskKind.SLACK_REFRESH: run_refresh,
    TaskKind.ROLE_INVITE: run_invite,
}
