"""Sending a claimed email (SMTP) or page (PagerDuty's Events API v2), once.

The sweep claims these apart from Slack work, before it, and runs them on the context's
outbound pool, at most two of each kind at a time, each sender going on to the next due one
of its kind (`bot/scheduler.py`): a mail server that does not answer holds an outbound
thread for a 10 s timeout, never the sweep, a Slack listener, or a page.

What is sent, and to whom, is decided when it is sent (`outbound_content`). A failure
gives the task back with a back-off and a readable `last_error` (`/incident comms` shows
it); one that cannot get better, or the last attempt, sets it aside. Each outcome is one
COMMS timeline entry per task occurrence.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.context import Context
from bot.flows import incident_posts, outbound_content
from bot.integrations import pagerduty, smtp_mail
from bot.models import ScheduledTask
from bot.policy import Policy
from bot.render import render
from bot.services import notification_rules, tasks, timeline_entries
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

# A follow-up (an acknowledge after its trigger, a "resolved" email) looks again this soon.
FOLLOW_UP_WAIT = timedelta(seconds=5)


def _what(task: ScheduledTask) -> str:
    data = task.data
    return str(data.get("what") or data.get("template") or data.get("action") or task.key)


def _finish(
    ctx: Context,
    claim: tasks.Claim,
    task: ScheduledTask,
    *,
    via: str,
    to: list[str],
    outcome: str,
    text: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Done: mark the task so and put what happened on the timeline (once)."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        if not tasks.complete(session=session, claim=claim, now=now):
            return  # the claim went to another process: it finishes the job
        row = session.get(ScheduledTask, claim.task_id)
        if row is not None and outcome == "sent":
            row.sent_at = now
            session.add(row)
        timeline_entries.record_comms(
            session,
            task,
            via=via,
            to=to,
            what=_what(task),
            outcome=outcome,
            text=text,
            now=now,
            extra=extra,
        )


def _fail(
    ctx: Context,
    claim: tasks.Claim,
    task: ScheduledTask,
    error: str,
    *,
    via: str,
    to: list[str],
    give_up: bool = False,
    retry_after: timedelta | None = None,
    outcome: str = "gave_up",
    progress: dict[str, Any] | None = None,
) -> bool:
    """Give the task back to be tried again later, or set it aside (and say so, once, on
    the timeline); True when it was set aside."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        if progress is not None:
            tasks.save_progress(session=session, claim=claim, data=progress, now=now)
        due = tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=error,
            retry_after=retry_after,
            give_up=give_up,
        )
        if due is None:
            timeline_entries.record_comms(
                session,
                task,
                via=via,
                to=to,
                what=_what(task),
                outcome=outcome,
                text=f"{'Email' if via == 'email' else 'Page'} ({_what(task)}) not sent: {error}",
                now=now,
            )
    if due is not None:
        log.info("%s task %s will be tried again at %s", via, claim.task_id, due.isoformat())
    return due is None


def _waits(ctx: Context, claim: tasks.Claim, task: ScheduledTask) -> bool:
    """Postpone a follow-up while what it follows is still on its way (True if so)."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        after = notification_rules.waiting_for(session, task, now)
        if after is None:
            return False
        tasks.postpone(session=session, claim=claim, due=max(after, now + FOLLOW_UP_WAIT), now=now)
    return True


# -- email ---------------------------------------------------------------------------------


def run_email(ctx: Context, claim: tasks.Claim) -> None:
    """Send one claimed email to the recipients it has not reached yet."""
    loaded = tasks.load(ctx.db, claim)
    if loaded is None:
        return
    task, incident = loaded
    server = ctx.smtp
    if server is None:
        error = "email is off: SMTP_URL is not set"
        log.warning(
            "email %s (%s) for %s not sent: %s", task.id, _what(task), incident.reference, error
        )
        _fail(ctx, claim, task, error, via="email", to=[], give_up=True, outcome="not_configured")
        return
    if _waits(ctx, claim, task):
        return
    try:
        found = outbound_content.recipients(ctx, task.data)
    except SlackCallFailed as exc:
        error = f"looking up email addresses in Slack failed: {exc}"
        _fail(ctx, claim, task, error, via="email", to=[], retry_after=exc.retry_after)
        return
    if task.data.get("template") == "escalation":
        with ctx.db.session() as session:
            told = notification_rules.escalated_before(session, task)
        found.addresses = [a for a in found.addresses if a not in told]
    sent_to = [str(a) for a in task.data.get("sent_to") or []]
    refused = {str(k): str(v) for k, v in dict(task.data.get("refused_by") or {}).items()}
    todo = [a for a in found.addresses if a not in sent_to and a not in refused]
    extra: dict[str, Any] = {"unreached": found.unreached}
    if not found.addresses:
        text = f"No email ({_what(task)}) sent: no address for " + (
            ", ".join(found.unreached) or "anyone not told already"
        )
        _finish(
            ctx, claim, task, via="email", to=[], outcome="no_recipients", text=text, extra=extra
        )
        return
    if todo:
        subject, text, body = outbound_content.content(ctx, incident, task)
        occurrence = int(task.data.get("occurrence", 0))
        message = smtp_mail.build(
            sender=server.sender,
            to=found.addresses,
            subject=subject,
            text=text,
            html=body,
            msg_id=smtp_mail.message_id(
                f"{incident.reference}.task-{task.id}.{occurrence}", server.sender
            ),
        )
        if not tasks.renew(db=ctx.db, claim=claim, now=ctx.clock.now()):
            log.warning("email %s: its claim went to another process", claim.task_id)
            return
        try:
            result = smtp_mail.send(server, message, todo)
        except smtp_mail.MailError as exc:
            report = log.error if exc.login else log.warning
            report(
                "email %s (%s) for %s not sent: %s",
                task.id,
                _what(task),
                incident.reference,
                exc.reason,
            )
            _fail(ctx, claim, task, exc.reason, via="email", to=todo, give_up=not exc.transient)
            return
        sent_to.extend(result.accepted)
        refused.update(result.refused)
        if result.refused:
            log.warning("email %s: the server refused %s", task.id, result.refused)
        if result.deferred:
            said = "; ".join(f"{a}: {why}" for a, why in result.deferred.items())
            log.warning("email %s: the server deferred %s", task.id, said)
            progress = {**task.data, "sent_to": sent_to, "refused_by": refused}
            _fail(
                ctx,
                claim,
                task,
                f"the server deferred {said}",
                via="email",
                to=todo,
                progress=progress,
            )
            return
    extra["refused"] = refused
    if not sent_to:
        said = "; ".join(f"{a}: {why}" for a, why in refused.items())
        _fail(
            ctx,
            claim,
            task,
            f"every recipient was refused ({said})",
            via="email",
            to=found.addresses,
            give_up=True,
        )
        return
    text = f"Emailed {', '.join(sent_to)} ({_what(task)})"
    if refused:
        text += f"; refused: {', '.join(refused)}"
    _finish(ctx, claim, task, via="email", to=sent_to, outcome="sent", text=text, extra=extra)


# -- paging --------------------------------------------------------------------------------


def _paging_off(policy: Policy) -> str:
    variable = policy.paging.routing_key_env
    if variable:
        return f"paging is off: {variable} (paging.routing_key_env) is not set"
    return "paging is off: the policy has no paging.routing_key_env"


def run_page(ctx: Context, claim: tasks.Claim) -> None:
    """Send one claimed PagerDuty event (after the trigger it follows, for the others)."""
    loaded = tasks.load(ctx.db, claim)
    if loaded is None:
        return
    task, incident = loaded
    action = str(task.data.get("action") or "trigger")
    key = ctx.policy.paging.key()
    if key is None:
        error = _paging_off(ctx.policy)
        log.warning("page %s (%s) for %s not sent: %s", task.id, action, incident.reference, error)
        _fail(ctx, claim, task, error, via="page", to=[], give_up=True, outcome="not_configured")
        return
    if _waits(ctx, claim, task):
        return
    dedup = pagerduty.dedup_key(incident.reference)
    if action == "trigger" and not incident.is_open:
        text = f"Page ({action}) not sent: {incident.reference} was resolved before it went out"
        _finish(ctx, claim, task, via="page", to=[dedup], outcome="skipped", text=text)
        return
    event = outbound_content.page_event(ctx, incident, task, key)
    if not tasks.renew(db=ctx.db, claim=claim, now=ctx.clock.now()):
        log.warning("page %s: its claim went to another process", claim.task_id)
        return
    try:
        pagerduty.send(ctx.policy.paging.events_url, event)
    except pagerduty.PagingError as exc:
        report = log.warning if exc.transient else log.error
        report("page %s (%s) for %s not sent: %s", task.id, action, incident.reference, exc.reason)
        gave_up = _fail(
            ctx,
            claim,
            task,
            exc.reason,
            via="page",
            to=[dedup],
            give_up=not exc.transient,
            retry_after=exc.retry_after,
        )
        if gave_up and action == "trigger":
            # Nobody was woken up: the people in the channel must know, to page by hand.
            text = render("page_failed.j2", incident=incident, error=exc.reason)
            try:
                incident_posts.post(ctx, incident, text)
            except SlackCallFailed as notice:
                log.error("%s: could not say the page failed: %s", incident.reference, notice)
        return
    text = f"PagerDuty {action} sent ({dedup})"
    _finish(
        ctx,
        claim,
        task,
        via="page",
        to=[dedup],
        outcome="sent",
        text=text,
        extra={"action": action, "dedup_key": dedup},
    )
