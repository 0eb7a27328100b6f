"""The post-incident survey: a direct message on close with a 1 to 5 rating and an
optional comment; the answers feed "satisfaction" in the reports.

Each person's survey is a task row (once per incident), posted once (its metadata names
the incident and the person); a rating or comment is stored on that person's row.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import update
from sqlmodel import select

from bot import blocks
from bot.context import Context
from bot.db import insert_or_ignore
from bot.errors import UserError
from bot.flows import incident_changes, incident_posts, slack_refusals
from bot.ids import MetadataType
from bot.models import Incident, ScheduledTask, SurveyResponse
from bot.render import render
from bot.services import disclosure, incident_queries, tasks
from bot.slack.gateway import SlackCallFailed
from bot.views import survey_views

log = logging.getLogger(__name__)


def run_claimed(ctx: Context, claim: tasks.Claim) -> bool:
    """Send one person the survey (a claimed SURVEY task)."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        incident = session.get(Incident, claim.incident_id)
        task = session.get(ScheduledTask, claim.task_id)
        if incident is None or task is None:
            return tasks.complete(session=session, claim=claim, now=now)
        role = "reporter" if claim.key == incident.reporter_id else "business_liaison"
        table = SurveyResponse.__table__  # type: ignore[attr-defined]
        values = {
            "incident_id": claim.incident_id,
            "user_id": claim.key,
            "role": role,
            "comment": "",
            "sent_at": now,
        }
        session.execute(
            insert_or_ignore(
                table, tuple(values), ("incident_id", "user_id"), session.get_bind().dialect.name
            ),
            values,
        )
    view = disclosure.outside(incident)  # a direct message is outside the channel
    text = render("survey.j2", incident=view)
    try:
        incident_posts.post_once(
            ctx,
            claim.key,
            text=text,
            blocks_=blocks.as_dicts(survey_views.survey_blocks(text, claim.incident_id)),
            event_type=str(MetadataType.SURVEY),
            payload={"reference": incident.reference, "user": claim.key},
            look_first=claim.attempts > 1,
            since=task.due_at,
        )
    except SlackCallFailed as exc:
        delay = slack_refusals.retry_delay(claim.attempts, exc.retry_after)
        transient = slack_refusals.is_transient(exc)
        with ctx.db.session() as session:
            tasks.release(
                session=session,
                claim=claim,
                now=now,
                error=str(exc),
                retry_after=delay,
                give_up=not transient or delay is None,
            )
        log.warning("%s: the survey for %s did not go: %s", incident.reference, claim.key, exc)
        return False
    with ctx.db.session() as session:
        return tasks.complete(session=session, claim=claim, now=now)


def _answer(ctx: Context, incident_id: int, user: str, **values: object) -> SurveyResponse:
    table = SurveyResponse.__table__  # type: ignore[attr-defined]
    with ctx.db.session() as session:
        result = session.execute(
            update(table)
            .where(table.c.incident_id == incident_id, table.c.user_id == user)
            .values(answered_at=ctx.clock.now(), **values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise UserError("This survey is not yours, or not known any more.")
        row = session.exec(
            select(SurveyResponse).where(
                SurveyResponse.incident_id == incident_id, SurveyResponse.user_id == user
            )
        ).one()
        session.expunge(row)
        return row


def parse_value(value: str) -> tuple[int, int | None]:
    """The incident (and rating) a survey button stands for."""
    try:
        data = json.loads(value)
        incident_id = int(data["incident"])
        rating = data.get("rating")
    except (ValueError, KeyError, TypeError):
        raise UserError("That button is not valid any more.") from None
    if rating is not None and (not isinstance(rating, int) or not 1 <= rating <= 5):
        raise UserError("That rating is not valid.")
    return incident_id, rating


def rate(ctx: Context, incident_id: int, user: str, rating: int, channel: str, ts: str) -> None:
    """Store a rating, and thank the person in the survey message."""
    row = _answer(ctx, incident_id, user, rating=rating)
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
    assert incident is not None
    text = render("survey_thanks.j2", incident=disclosure.outside(incident), rating=rating)
    ctx.slack.update_message(
        channel,
        ts,
        text=text,
        blocks=blocks.as_dicts(
            survey_views.thanks_blocks(text, incident_id, commented=bool(row.comment))
        ),
    )


def open_comment(ctx: Context, incident_id: int, trigger_id: str) -> None:
    """The comment form."""
    with ctx.db.session() as session:
        incident = incident_queries.require(session, incident_id)
    view = survey_views.comment_modal(incident_id, disclosure.outside(incident).reference)
    incident_changes.open_form(ctx, trigger_id, view.to_dict())


def comment(ctx: Context, incident_id: int, user: str, text: str) -> None:
    """Store a comment (kept whole; read in the reports' data, not posted anywhere)."""
    _answer(ctx, incident_id, user, comment=text.strip()[:3000])
