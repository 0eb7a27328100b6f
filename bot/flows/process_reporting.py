"""`/incident metrics` and the scheduled reports: the process figures, shown in Slack.

`/incident metrics` answers the person privately and sends them the charts by direct
message; with `--share` both go to the channel. A scheduled report is posted once per
period across restarts and replicas: its run is a row unique on report and period,
claimed with a lease while it is made; its post carries metadata, so a retry after a
lost answer finds it instead of posting again, and the charts follow in its thread.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session

from bot import blocks
from bot.command_registry import Invocation
from bot.context import Context
from bot.db import insert_or_ignore
from bot.errors import UserError
from bot.flows import announcement_channel, incident_posts
from bot.ids import MetadataType
from bot.models import ReportRun, ReportState
from bot.render import Slack, escape, render
from bot.report_policy import Period, ReportSchedule
from bot.services import (
    process_charts,
    process_metrics,
    process_reports,
    process_summary,
    report_periods,
)
from bot.services.process_metrics import Filters, Summary
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# A report whose due time passed longer ago than this (the bot was down) waits for the next.
GRACE = timedelta(days=3)
MAX_ATTEMPTS = 10


def _visible(ctx: Context, summary: Summary, user: str | None) -> set[str]:
    """References of the private incidents in the summary that this reader may see."""
    private = [m for m in summary.misses if m.is_private and m.channel_id]
    if user is None or not private:
        return set()
    mine = ctx.slack.private_channels_of(user)
    return {m.reference for m in private if m.channel_id in mine}


def _unknown_services(session: Session, services: tuple[str, ...]) -> list[str]:
    known = process_metrics.known_services(session)
    return [s for s in services if s.lower().replace(" ", "") not in known]


def metrics(ctx: Context, invocation: Invocation) -> None:
    """`/incident metrics [period] [filters] [--share]`."""
    if invocation.args.strip().lower() == "help":
        invocation.respond(render("metrics_help.j2", definitions=process_metrics.DEFINITIONS))
        return
    person = ctx.slack.user(invocation.user_id)
    now = ctx.clock.now()
    request = report_periods.parse(
        invocation.args, ctx.policy, now=now, tz=person.tz if person else None
    )
    with ctx.db.read_session() as session:
        unknown = _unknown_services(session, request.filters.services)
        if unknown:
            known = sorted(process_metrics.known_services(session))[:40]
            raise UserError(
                f"No incident has named the service `{unknown[0]}`. Services named so far: "
                + (", ".join(known) if known else "none")
                + "."
            )
        summary = process_summary.summarise(session, ctx.policy, request.filters, now)
        charts = process_charts.charts(session, ctx.policy, summary) if summary.total else []
    if request.share:
        _share(ctx, invocation.channel_id, summary, request.label, charts)
        invocation.respond(f"Posted the figures for {request.label} in this channel.")
        return
    visible = _visible(ctx, summary, invocation.user_id)
    invocation.respond(process_reports.slack_text(summary, ctx.policy, request.label, visible))
    if charts:
        dm = ctx.slack.open_dm(invocation.user_id)
        _upload(ctx, dm, charts, f"Charts for {request.label}.", None)


def _upload(
    ctx: Context,
    channel: str,
    charts: list[process_charts.Chart],
    comment: str,
    thread_ts: str | None,
) -> None:
    ctx.slack.upload_files(
        channel,
        [(chart.filename, chart.png, chart.title) for chart in charts],
        comment=comment,
        thread_ts=thread_ts,
    )


def _share(
    ctx: Context,
    channel: str,
    summary: Summary,
    label: str,
    charts: list[process_charts.Chart],
) -> None:
    text = process_reports.slack_text(summary, ctx.policy, label, set())
    try:
        _, ts = incident_posts.post_once(
            ctx,
            channel,
            text=text,
            blocks_=blocks.as_dicts(blocks.paragraph_blocks(text)),
            event_type=str(MetadataType.REPORT),
            payload={"shared": label},
            look_first=False,
            since=ctx.clock.now(),
            join=True,  # a public channel the bot is not in yet
        )
    except SlackCallFailed as exc:
        if exc.error == "not_in_channel":
            raise UserError(
                "I am not in this private channel: invite me (`/invite @incident-bot`) and "
                "share again."
            ) from None
        raise
    if charts:
        _upload(ctx, channel, charts, f"Charts for {label}.", ts)


# -- scheduled reports -------------------------------------------------------------------


def run_due(ctx: Context) -> int:
    """Post every scheduled report whose period is due and not yet posted; how many."""
    posted = 0
    now = ctx.clock.now()
    for report in ctx.policy.reports:
        due, period = report.latest(now)
        if now - due > GRACE:
            continue
        run_id = _claim(ctx, report, period, now)
        if run_id is None:
            continue
        try:
            filters = Filters(period.start, period.end, *_scope(report))
            _post(ctx, report, run_id, filters, period.label)
        except Exception as exc:  # a Slack outage or a bad chart: tried again later
            log.warning("report %s for %s failed: %s", report.name, period.key, exc)
            _release(ctx, run_id, now, repr(exc))
            continue
        posted += 1
    return posted


Scope = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]


def _scope(report: ReportSchedule) -> Scope:
    scope = report.scope
    return (
        tuple(scope.severities),
        tuple(scope.categories),
        tuple(scope.services),
        scope.include_all,
    )


def _claim(ctx: Context, report: ReportSchedule, period: Period, now: datetime) -> int | None:
    """This process's claim on the report's run for the period, if it gets one."""
    table = ReportRun.__table__  # type: ignore[attr-defined]
    values = {
        "report": report.name,
        "period_key": period.key,
        "period_start": period.start,
        "period_end": period.end,
        "state": ReportState.PENDING,
        "attempts": 0,
        "created_at": now,
    }
    token = str(uuid.uuid4())
    with ctx.db.session() as session:
        dialect = session.get_bind().dialect.name
        session.execute(
            insert_or_ignore(table, tuple(values), ("report", "period_key"), dialect), values
        )
        claimed = session.execute(
            update(table)
            .where(
                table.c.report == report.name,
                table.c.period_key == values["period_key"],
                table.c.state == ReportState.PENDING,
                or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
            )
            .values(claim_token=token, claimed_until=now + LEASE, attempts=table.c.attempts + 1)
            .returning(table.c.id)
        ).first()
    return int(claimed[0]) if claimed is not None else None


def _release(ctx: Context, run_id: int, now: datetime, error: str) -> None:
    table = ReportRun.__table__  # type: ignore[attr-defined]
    with ctx.db.session() as session:
        row = session.get(ReportRun, run_id)
        dead = row is not None and row.attempts >= MAX_ATTEMPTS
        session.execute(
            update(table)
            .where(table.c.id == run_id)
            .values(
                state=ReportState.DEAD if dead else ReportState.PENDING,
                claim_token=None,
                claimed_until=None,
                next_attempt_at=now + timedelta(minutes=5),
                last_error=error[:1000],
            )
        )


def _post(ctx: Context, report: ReportSchedule, run_id: int, filters: Filters, label: str) -> None:
    now = ctx.clock.now()
    with ctx.db.read_session() as session:
        summary = process_summary.summarise(session, ctx.policy, filters, now)
        charts = process_charts.charts(session, ctx.policy, summary) if summary.total else []
        run = session.get(ReportRun, run_id)
        assert run is not None
        attempts, posted_ts = run.attempts, run.slack_ts
    channel = announcement_channel.channel_id(ctx, report.channel)
    text = render(
        "scheduled_report.j2",
        report=report.name,
        label=label,
        body=Slack(process_reports.slack_text(summary, ctx.policy, label, set())),
    )
    if posted_ts is None:
        footer = " ".join(f"*{name}*: {words}" for name, words in process_metrics.DEFINITIONS)
        where, posted_ts = incident_posts.post_once(
            ctx,
            channel,
            text=text,
            blocks_=blocks.as_dicts(blocks.paragraph_blocks(text, escape(footer))),
            event_type=str(MetadataType.REPORT),
            payload={"report": report.name, "period": filters.start.isoformat()},
            look_first=attempts > 1,
            since=now - timedelta(days=1),
            join=True,
        )
        _save(ctx, run_id, slack_channel=where, slack_ts=posted_ts)
    if charts:
        try:
            _upload(ctx, channel, charts, f"Charts for {label}.", posted_ts)
        except SlackCallFailed as exc:
            log.warning("report %s: the charts did not reach Slack: %s", report.name, exc)
    _save(ctx, run_id, state=ReportState.DONE, done_at=now, claim_token=None, claimed_until=None)


def _save(ctx: Context, run_id: int, **values: object) -> None:
    table = ReportRun.__table__  # type: ignore[attr-defined]
    with ctx.db.session() as session:
        session.execute(update(table).where(table.c.id == run_id).values(**values))
