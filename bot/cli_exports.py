"""The export commands' work, apart from the command line (`bot.cli` opens the database
and writes the output): a review draft as Markdown, the follow-up actions, the report."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from bot.errors import ConfigError
from bot.models import Incident
from bot.policy import Policy
from bot.services import (
    disclosure,
    follow_up_actions,
    process_metrics,
    process_reports,
    process_summary,
    review_draft,
)


def pir(
    session: Session, policy: Policy, reference: str, include_private: bool, now: datetime
) -> str:
    """The latest review draft of an incident as Markdown (rendered from the record when it
    was never drafted in Slack); a private incident only with `include_private`."""
    incident = session.exec(
        select(Incident).where(Incident.reference == reference.strip().upper())
    ).first()
    if incident is None:
        raise ConfigError(f"no incident {reference}")
    if incident.is_private and not include_private:
        raise ConfigError(
            f"{incident.reference} is a private incident: add --include-private to "
            "export its review"
        )
    draft = review_draft.latest(session, incident)
    if draft is not None:
        return draft.markdown
    context = review_draft.build(session, incident, policy, now)
    markdown, _ = review_draft.render(context, policy.templates_dir)
    return markdown


def actions(session: Session, overdue: bool, include_private: bool, today: date) -> list[str]:
    """One line per follow-up action (a private incident's text and owner withheld unless
    `include_private`), then how many are done unless only the overdue ones are listed."""
    lines = []
    done = count = 0
    for incident, item in follow_up_actions.listing(session, overdue_only=overdue, today=today):
        done, count = done + (item.state == "done"), count + 1
        due = item.due_date.isoformat() if item.due_date else "-"
        owner, text = item.owner_id or "-", item.text
        if incident.is_private and not include_private:
            owner, text = "-", disclosure.PRIVATE_TITLE.lower() + " (--include-private)"
        lines.append(f"{incident.reference}\t#{item.number}\t{item.state}\t{due}\t{owner}\t{text}")
    if not overdue:
        lines.append(f"{done} of {count} actions done" if count else "no actions")
    return lines


def _day(text: str, flag: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date: write it like 2026-11-01") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def report_query(policy: Policy, args: argparse.Namespace) -> process_metrics.Filters:
    """The report's filters from its arguments, each checked against the policy."""
    start = _day(args.start, "--from")
    end = _day(args.end, "--to") + timedelta(days=1)
    if end <= start:
        raise ConfigError("--to is before --from")
    for key in args.severity:
        if key not in policy.severities:
            raise ConfigError(f"--severity {key!r}: use one of {', '.join(policy.severities)}")
    for category in args.category:
        if category not in policy.categories:
            raise ConfigError(f"--category {category!r}: use one of {', '.join(policy.categories)}")
    return process_metrics.Filters(
        start,
        end,
        tuple(args.severity),
        tuple(args.category),
        tuple(args.service),
        args.include_all,
    )


def report(
    session: Session,
    policy: Policy,
    filters: process_metrics.Filters,
    args: argparse.Namespace,
    now: datetime,
) -> str:
    """The report in `args.format` (markdown, csv, json or html)."""
    label = f"{args.start} to {args.end} (UTC)"
    visible = process_reports.Everything() if args.include_private else set[str]()
    if args.format == "csv":
        return process_reports.to_csv(session, filters, visible)
    summary = process_summary.summarise(
        session, policy, filters, now, include_private=args.include_private
    )
    if args.format == "json":
        return process_reports.to_json(summary, policy, label, visible)
    if args.format == "html":
        # matplotlib is imported only by the command that draws.
        from bot.services import process_charts  # noqa: PLC0415

        charts = process_charts.charts(session, policy, summary)
        return process_reports.html(summary, policy, label, visible, charts, now)
    return process_reports.markdown(summary, policy, label, visible)
