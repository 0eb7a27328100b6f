"""Generating the review draft: fill timeline gaps from Slack, render, upload, keep a version.

Generation is a scheduled task, so its claim makes it one at a time per incident across
replicas; `/incident pir` claims it at once, and a resolve of a severity that needs a
review schedules it for the sweeper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_posts as show
from bot.models import Incident, PirDraft, TaskKind
from bot.render import render
from bot.services import event_ingest, heartbeats, review_draft, review_record, task_schedule, tasks
from bot.services.markdown_text import Person
from bot.slack.gateway import SlackCallFailed
from bot.storable import storable

log = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_ATTEMPTS = 8  # tries of one draft, 5 s to 5 min apart (about 10 min in all), then give up


@dataclass(frozen=True)
class Generated:
    """A stored draft and what it cost."""

    draft: PirDraft
    history_calls: int


def _fill_gaps(ctx: Context, incident: Incident, now: datetime) -> int:
    """Read Slack's history for the stretches no bot process covered; returns the calls."""
    assert incident.id is not None and incident.channel_id is not None
    with ctx.db.session() as session:
        missing = heartbeats.gaps(session, incident.declared_at, now)
    calls = 0
    bot_user = ctx.slack.identity().user_id
    for start, end in missing:
        cursor: str | None = None
        threads: list[str] = []
        while True:
            messages, cursor = ctx.slack.history_page(
                incident.channel_id,
                oldest=f"{start.timestamp():.6f}",
                latest=f"{end.timestamp():.6f}",
                cursor=cursor,
                limit=PAGE_SIZE,
            )
            calls += 1
            _record(ctx, incident.id, incident.channel_id, messages, now, bot_user)
            threads.extend(m["ts"] for m in messages if m.get("reply_count"))
            if not cursor:
                break
        for parent in threads:
            cursor = None
            while True:
                replies, cursor = ctx.slack.replies_page(
                    incident.channel_id, parent, cursor=cursor, limit=PAGE_SIZE
                )
                calls += 1
                _record(
                    ctx,
                    incident.id,
                    incident.channel_id,
                    [r for r in replies if r.get("ts") != parent],
                    now,
                    bot_user,
                )
                if not cursor:
                    break
    return calls


def _record(
    ctx: Context,
    incident_id: int,
    channel: str,
    messages: list[dict[str, object]],
    now: datetime,
    bot_user: str,
) -> None:
    with ctx.db.session() as session:
        for message in messages:
            # History read from Slack comes in at this edge, as events come in at Bolt's.
            event = storable({**message, "type": "message", "channel": channel})
            event_ingest.ingest(session, incident_id, event, now=now, bot_user_id=bot_user)


class NothingToReview(UserError):
    """The timeline holds nothing to write a draft from yet (not a failure to retry)."""


def look_up_people(ctx: Context, user_ids: set[str]) -> dict[str, Person]:
    """Each person's name from Slack, asked once per person; unknown people are left out."""
    found: dict[str, Person] = {}
    for user_id in sorted(user_ids):
        try:
            user = ctx.slack.user(user_id)
        except SlackCallFailed as exc:
            if _transient(exc):
                raise
            log.warning("no name for %s: %s", user_id, exc)
            continue
        if user is not None and user.name:
            found[user_id] = Person(name=user.name)
    return found


def draft_markdown(ctx: Context, incident_id: int, now: datetime) -> tuple[str, str | None, int]:
    """Read, name, compose and render the next draft: (Markdown, template error, version)."""
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        if not review_draft.has_content(session, incident):
            raise NothingToReview(
                f"{incident.reference} has nothing on its timeline yet: no messages, updates or "
                "notes to review. Try again once the channel has the story."
            )
        record = review_record.load(session, incident)
        version = review_draft.next_version(session, incident)
        previous = review_draft.latest(session, incident)
    people = look_up_people(ctx, review_record.people(record))  # Slack: outside the transaction
    context = review_draft.compose(record, ctx.policy, now, people=people, version=version)
    markdown, template_error = review_draft.render(
        context, ctx.policy.templates_dir, previous=previous
    )
    return markdown, template_error, version


def _generate(
    ctx: Context, claim: tasks.Claim, incident: Incident, actor: str | None, now: datetime
) -> Generated:
    if incident.channel_id is None:
        raise UserError("That incident has no channel yet.")
    calls = _fill_gaps(ctx, incident, now)
    markdown, template_error, version = draft_markdown(ctx, claim.incident_id, now)
    comment = render(
        "pir_posted.j2", incident=incident, version=version, template_error=template_error
    )
    file_id = ctx.slack.upload_file(
        incident.channel_id,
        filename=f"{incident.reference}-pir-v{version}.md",
        content=markdown.encode("utf-8"),
        title=f"{incident.reference} post-incident review (draft v{version})",
        comment=comment,
    )
    with ctx.db.session() as session:
        draft = PirDraft(
            incident_id=claim.incident_id,
            version=version,
            markdown=markdown,
            created_at=now,
            created_by=actor,
            file_id=file_id,
            history_calls=calls,
            template_error=template_error,
        )
        session.add(draft)
        tasks.complete(session=session, claim=claim, now=now)
    return Generated(draft=draft, history_calls=calls)


def _transient(exc: SlackCallFailed) -> bool:
    # The upload's own POST fails on the network, not on Slack's word: worth another try.
    return exc.transient or exc.error == "upload_failed"


def _failed(
    ctx: Context,
    claim: tasks.Claim,
    incident: Incident,
    exc: Exception,
    now: datetime,
    *,
    asked: bool,
) -> datetime | None:
    """Give the task back to be tried again later, or set it aside; returns when it is due."""
    slack = exc if isinstance(exc, SlackCallFailed) else None
    error = f"{type(exc).__name__}: {exc}"
    with ctx.db.session() as session:
        due = tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=error,
            retry_after=slack.retry_after if slack is not None else None,
            max_attempts=MAX_ATTEMPTS,
            give_up=slack is not None and not _transient(slack),
        )
    log.warning(
        "%s: review draft attempt %s failed (%s); %s",
        incident.reference,
        claim.attempts,
        error,
        f"next try at {due.isoformat()}" if due else "giving up",
        exc_info=None if isinstance(exc, SlackCallFailed | UserError) else exc,
    )
    if due is None and not asked:
        try:
            show.post(ctx, incident, render("pir_failed.j2", incident=incident, error=_reason(exc)))
        except SlackCallFailed as notice:
            log.warning("%s: could not say the draft failed: %s", incident.reference, notice)
    return due


def _reason(exc: Exception) -> str:
    """Why a draft failed, in a few words (no closing full stop)."""
    if isinstance(exc, SlackCallFailed):
        return f"Slack answered `{exc.error}`"
    if isinstance(exc, UserError):
        return exc.message.rstrip(".")
    return "an error on my side, which is logged"


def generate(ctx: Context, claim: tasks.Claim, actor: str | None) -> Generated:
    """Generate, upload and store the next draft version (the claim is held throughout).

    A failure gives the task back to be retried with back-off (Slack's Retry-After for a
    429), at most MAX_ATTEMPTS times; then the channel is told once. An empty timeline is
    not a failure: the task is done and the person who asked is told why.
    """
    now = ctx.clock.now()
    with ctx.db.session() as session:
        incident = session.get(Incident, claim.incident_id)
    if incident is None:
        with ctx.db.session() as session:
            tasks.complete(session=session, claim=claim, now=now)
        raise NothingToReview("That incident no longer exists.")
    try:
        return _generate(ctx, claim, incident, actor, now)
    except NothingToReview:
        with ctx.db.session() as session:
            tasks.complete(session=session, claim=claim, now=now)
        raise
    except Exception as exc:
        due = _failed(ctx, claim, incident, exc, now, asked=actor is not None)
        if actor is None:
            raise
        later = (
            f" I will try again at {due:%H:%M} UTC by myself, or run `/incident pir` again."
            if due is not None
            else " Run `/incident pir` again once the problem is fixed."
        )
        raise UserError(
            f"The review draft of {incident.reference} could not be generated: {_reason(exc)}."
            + later
        ) from exc


_BUSY = "A review draft for this incident is being generated right now."


def request(ctx: Context, incident_id: int, actor: str) -> Generated:
    """`/incident pir`: generate now, unless a generation is already running."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        task = task_schedule.arm(
            session=session, incident_id=incident_id, kind=TaskKind.PIR, due_at=now, now=now
        )
        task_id = task.id
    assert task_id is not None
    # None: another process holds it (or took it over when this one ran past its lease).
    generated = tasks.claim_and_run(
        db=ctx.db, task_id=task_id, now=now, run=lambda c: generate(ctx, c, actor)
    )
    if generated is None:
        raise UserError(_BUSY)
    return generated


def run_claimed(ctx: Context, claim: tasks.Claim) -> None:
    """The sweeper's runner: generate a draft scheduled after a resolve."""
    try:
        generate(ctx, claim, None)
    except NothingToReview as exc:
        log.info("incident %s: no review draft: %s", claim.incident_id, exc.message)
    except Exception as exc:  # already given back to be retried, or set aside
        log.info("incident %s: review draft not generated: %s", claim.incident_id, exc)
