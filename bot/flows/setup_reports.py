"""How an incident's set-up went: recorded on the incident and its timeline, told to the reporter.

A set-up problem (a step Slack refused for good, or one the bot gave up retrying) is kept in
`Incident.setup_problems` and put on the timeline once per round. The reporter hears of each
problem once: in the notice sent while steps wait for a retry, or else in the confirmation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import blocks
from bot.context import Context
from bot.flows import slack_refusals
from bot.models import Incident, TimelineKind
from bot.render import render
from bot.services import timeline_entries
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

# What did not happen when a step failed.
STEP_WORDS = {
    "channel": "the incident channel was not created",
    "invite": "you were not added to the incident channel",
    "topic": "the channel topic was not set",
    "summary": "the summary was not posted in the channel",
    "pin": "the summary was not pinned",
    "announcement": "the incident was not announced",
    "confirmation": "this confirmation was not sent",
}
# The same, as the timeline says it.
TIMELINE_STEP_WORDS = {
    **STEP_WORDS,
    "invite": "the reporter was not added to the incident channel",
    "confirmation": "the reporter's confirmation was not sent",
}
# Steps by name, for "skipped because of that".
STEP_NAMES = {
    "channel": "the channel",
    "invite": "your invitation",
    "topic": "the topic",
    "summary": "the summary",
    "pin": "the pin",
    "announcement": "the announcement",
    "confirmation": "the confirmation",
}
# Which channel a step's errors are about.
STEP_PLACES = {
    "invite": "incident",
    "topic": "incident",
    "summary": "incident",
    "pin": "incident",
    "announcement": "announcement",
    "confirmation": "dm",
}


def explain(error: SlackCallFailed, step: str | None = None) -> str:
    """A failure in plain words (why, and what to do), for the step it stopped if known."""
    return slack_refusals.explain(error, STEP_PLACES.get(step or ""))


@dataclass(frozen=True)
class ProblemLine:
    """One step that did not happen: what, why, and what it held back."""

    step: str
    what: str
    why: str
    gave_up: bool
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """A message for the reporter and the problems it tells of."""

    text: str
    blocks: list[dict[str, Any]] | None
    told: tuple[str, ...]


def _sentence(words: str) -> str:
    return words[:1].upper() + words[1:]


def _explain_recorded(step: str, problem: dict[str, Any]) -> str:
    error = SlackCallFailed(str(problem.get("method", "")), str(problem.get("error", "")))
    return explain(error, step)


def record_problem(
    ctx: Context, incident: Incident, step: str, error: SlackCallFailed, *, gave_up: bool
) -> Incident:
    """Record a step the bot will not retry on its own, on the incident and its timeline."""
    assert incident.id is not None
    now = ctx.clock.now()
    why = explain(error, step)
    if gave_up:
        why = f"still failing after {slack_refusals.MAX_ATTEMPTS} attempts: {why}"
    with ctx.db.session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        row.setup_problems = {
            **row.setup_problems,
            step: {"error": error.error, "method": error.method, "gave_up": gave_up, "told": False},
        }
        row.updated_at = now
        session.add(row)
        timeline_entries.record(
            session,
            incident.id,
            TimelineKind.SLACK_SETUP,
            now=now,
            text=f"Set-up problem: {TIMELINE_STEP_WORDS[step]} ({why})",
            data={
                "problem": step,
                "error": error.error,
                "method": error.method,
                "gave_up": gave_up,
            },
            dedupe_key=f"setup-problem:{incident.reference}:{row.setup_round}:{step}",
        )
    log.warning("%s: set-up step %s not done: %s", incident.reference, step, error)
    return row


def mark_told(ctx: Context, incident: Incident, steps: tuple[str, ...]) -> Incident:
    """Note that the reporter has heard of these problems."""
    if not steps:
        return incident
    with ctx.db.session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        row.setup_problems = {
            step: {**problem, "told": problem.get("told") or step in steps}
            for step, problem in row.setup_problems.items()
        }
        session.add(row)
        return row


def problem_lines(incident: Incident, skipped: dict[str, list[str]]) -> list[ProblemLine]:
    """The recorded problems the reporter has not heard of yet, in plain words."""
    lines = []
    for step, problem in incident.setup_problems.items():
        if step == "confirmation" or problem.get("told"):
            continue
        lines.append(
            ProblemLine(
                step=step,
                what=_sentence(STEP_WORDS[step]),
                why=_explain_recorded(step, problem),
                gave_up=bool(problem.get("gave_up")),
                skipped=tuple(STEP_NAMES[name] for name in skipped.get(step, [])),
            )
        )
    return lines


def _common(incident: Incident) -> dict[str, Any]:
    return {
        "incident": incident,
        "attempts": slack_refusals.MAX_ATTEMPTS,
        "minutes": int(slack_refusals.total_retry_time().total_seconds() // 60),
    }


def confirmation(ctx: Context, incident: Incident, skipped: dict[str, list[str]]) -> Report:
    """The reporter's confirmation: where the incident is, and what could not be done."""
    lines = problem_lines(incident, skipped)
    known = [step for step in incident.setup_problems if step != "confirmation"]
    text = render(
        "confirmation.j2",
        problems=lines,
        known_problems=bool(known),
        recovered=incident.failure_notice_sent or incident.setup_round > 0,
        **_common(incident),
    )
    assert incident.id is not None
    blocks_ = blocks.as_dicts(blocks.setup_failed_blocks(text, incident.id)) if known else None
    return Report(text=text, blocks=blocks_, told=tuple(line.step for line in lines))


def tell_pending(
    ctx: Context,
    incident: Incident,
    failures: dict[str, SlackCallFailed],
    waiting: list[str],
    skipped: dict[str, list[str]],
    next_attempt: datetime | None,
) -> None:
    """Tell the reporter, once, what did not happen yet and that the bot keeps trying."""
    if not incident.reporter_id:
        return  # declared by monitoring: the problems are on its timeline and in the logs
    pending = [
        {"what": STEP_WORDS[step], "why": explain(error, step)}
        for step, error in failures.items()
        if step not in incident.setup_problems and step != "confirmation"
    ]
    if incident.failure_notice_sent or not pending:
        return
    lines = problem_lines(incident, skipped)
    text = render(
        "setup_failed.j2",
        pending=pending,
        waiting=[STEP_NAMES[step] for step in waiting],
        problems=lines,
        next_attempt=next_attempt,
        **_common(incident),
    )
    assert incident.id is not None
    try:
        ctx.slack.post_message(
            incident.reporter_id,
            text=text,
            blocks=blocks.as_dicts(blocks.setup_failed_blocks(text, incident.id)),
        )
    except SlackCallFailed:
        log.warning("%s: could not tell the reporter about the failed set-up", incident.reference)
        return
    with ctx.db.session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        row.failure_notice_sent = True
        session.add(row)
    mark_told(ctx, incident, tuple(line.step for line in lines))


def finish(ctx: Context, incident: Incident) -> None:
    """Mark the set-up finished and put it on the timeline (once per round)."""
    assert incident.id is not None
    now = ctx.clock.now()
    problems = {step: problem["error"] for step, problem in incident.setup_problems.items()}
    if incident.channel_id is None:
        text = "Set-up finished without a channel"
    else:
        text = f"Channel #{incident.channel_name} set up"
    if problems:
        text += " (not done: " + ", ".join(problems) + ")"
    key = f"setup:{incident.reference}"
    with ctx.db.session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        if row.provisioned_at is None:
            row.provisioned_at = now
            session.add(row)
        timeline_entries.record(
            session,
            incident.id,
            TimelineKind.SLACK_SETUP,
            now=now,
            text=text,
            data={
                "channel_id": incident.channel_id,
                "summary_ts": incident.summary_ts,
                "announcement_ts": incident.announcement_ts,
                "problems": problems,
            },
            dedupe_key=f"{key}:{incident.setup_round}" if incident.setup_round else key,
        )
