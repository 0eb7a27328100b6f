"""`incident-bot` / `python -m bot`: run, migrate, check-config, declare, and exports."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType

from sqlmodel import select

from bot import __version__, migrate
from bot.clock import SystemClock
from bot.comms_policy import outbound_notes
from bot.db import Database
from bot.errors import ConfigError, InvalidInput
from bot.models import Incident
from bot.policy import Policy, alert_notes, announcement_note, load_policy
from bot.services import (
    disclosure,
    event_inbox,
    follow_up_actions,
    process_metrics,
    process_reports,
    process_summary,
    review_draft,
)
from bot.services.declaration import declare, validate_declaration
from bot.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-bot", description="Self-hosted Slack incident-response bot."
    )
    parser.add_argument("--version", action="version", version=f"incident-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    check = sub.add_parser("check-config", help="validate a policy file without starting")
    check.add_argument(
        "path", nargs="?", type=Path, help="policy YAML (default: $INCIDENT_BOT_CONFIG)"
    )
    review = sub.add_parser("pir", help="export an incident's review draft as Markdown")
    review.add_argument("reference", help="the incident, e.g. INC-20261122-001")
    review.add_argument("--output", "-o", type=Path, help="write to FILE instead of stdout")
    review.add_argument(
        "--include-private", action="store_true", help="export a private incident's review too"
    )
    listing = sub.add_parser("actions", help="list follow-up actions across incidents")
    listing.add_argument("--overdue", action="store_true", help="only open actions past due")
    listing.add_argument(
        "--include-private",
        action="store_true",
        help="show the text and owners of private incidents' actions",
    )
    declare_cmd = sub.add_parser(
        "declare",
        help="declare an incident from a shell (when Slack or monitoring is in trouble)",
        description="Record an incident as the /incident form does. A running bot sets up "
        "its channel, announcement and reminders at its next sweep (or as soon as Slack "
        "answers again).",
    )
    declare_cmd.add_argument("--title", required=True)
    declare_cmd.add_argument("--severity", required=True, help="a severity key: sev1 … sev4")
    declare_cmd.add_argument("--description", default="")
    declare_cmd.add_argument("--category", help="default: the policy's first category")
    declare_cmd.add_argument("--impact", choices=("high", "medium", "low"), default="high")
    declare_cmd.add_argument("--urgency", choices=("high", "medium", "low"), default="high")
    declare_cmd.add_argument("--services", default="", help="affected services, comma-separated")
    declare_cmd.add_argument("--private", action="store_true", help="a private incident")
    declare_cmd.add_argument(
        "--reporter", help="a Slack user ID (U…) to invite and tell, if there is one"
    )
    report = sub.add_parser(
        "report",
        help="the process figures for a period, for reviews and spreadsheets",
        description="MTTx, targets met, reviews, actions and satisfaction for incidents "
        "declared from --from to --to (dates, UTC, both included).",
    )
    report.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    report.add_argument("--format", choices=("markdown", "csv", "json", "html"), default="markdown")
    report.add_argument("--output", "-o", type=Path, help="write to FILE instead of stdout")
    report.add_argument("--severity", action="append", default=[], help="only this severity")
    report.add_argument("--category", action="append", default=[], help="only this category")
    report.add_argument("--service", action="append", default=[], help="only this service")
    report.add_argument(
        "--include-all",
        action="store_true",
        help="count false positives, duplicates, maintenance and tests too",
    )
    report.add_argument(
        "--include-private", action="store_true", help="show private incidents' titles"
    )
    inbox = sub.add_parser(
        "inbox", help="list events that failed to record; replay them after a fix"
    )
    inbox.add_argument(
        "--replay",
        nargs="*",
        type=int,
        metavar="ID",
        help="put these events (all, without IDs) up for the next sweep of a running bot",
    )
    return parser


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def configure_logging(level: str) -> None:
    """Log at `level`, but never Slack's SDKs below INFO: at DEBUG they log whole requests,
    tokens and people's messages included."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))


def _run() -> int:
    # Bolt, waitress and the scheduler are imported only by the command that needs them.
    from bot.runtime import Runtime, freeze_startup_heap  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings.log_level)
    runtime = Runtime(settings)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    runtime.start()
    freeze_startup_heap()
    try:
        runtime.wait()
    finally:
        runtime.stop()
    return 0


def _database() -> Database:
    # Only the database is needed by these commands, so the Slack settings need not be set.
    default = str(Settings.model_fields["database_url"].default)
    return Database.from_url(
        Settings.normalise_database_url(os.environ.get("DATABASE_URL") or default)
    )


def _policy() -> Policy:
    path = os.environ.get("INCIDENT_BOT_CONFIG")
    return load_policy(Path(path) if path else None)


def _pir(reference: str, output: Path | None, include_private: bool) -> int:
    db = _database()
    try:
        with db.session() as session:
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
                markdown = draft.markdown
            else:  # never drafted in Slack: render one from the record as it stands
                context = review_draft.build(session, incident, _policy(), SystemClock().now())
                markdown, _ = review_draft.render(context, _policy().templates_dir)
    finally:
        db.dispose()
    if output is None:
        _out(markdown)
    else:
        output.write_text(markdown, encoding="utf-8")
        _out(f"wrote {output}")
    return 0


def _actions(overdue: bool, include_private: bool) -> int:
    db = _database()
    try:
        with db.session() as session:
            rows = follow_up_actions.listing(
                session, overdue_only=overdue, today=SystemClock().now().date()
            )
            total: dict[int, list[int]] = {}
            for incident, item in rows:
                done, count = total.get(incident.id or 0, [0, 0])
                total[incident.id or 0] = [done + (item.state == "done"), count + 1]
                due = item.due_date.isoformat() if item.due_date else "-"
                owner, text = item.owner_id or "-", item.text
                if incident.is_private and not include_private:
                    owner, text = "-", disclosure.PRIVATE_TITLE.lower() + " (--include-private)"
                _out(f"{incident.reference}\t#{item.number}\t{item.state}\t{due}\t{owner}\t{text}")
    finally:
        db.dispose()
    if not overdue:
        done = sum(pair[0] for pair in total.values())
        count = sum(pair[1] for pair in total.values())
        _out(f"{done} of {count} actions done" if count else "no actions")
    return 0


def _inbox(replay: list[int] | None) -> int:
    db = _database()
    try:
        if replay is not None:
            count = event_inbox.replay(db, now=SystemClock().now(), ids=replay or None)
            _out(f"{count} event(s) put up for the next sweep")
            return 0
        rows = event_inbox.problems(db)
        for row in rows:
            _out(
                f"{row.id}\t{row.state}\t{row.event_id}\t{row.event_type}\t"
                f"{row.channel_id or '-'}\t{row.received_at.isoformat()}\t{row.attempts}\t"
                f"{(row.last_error or '').splitlines()[0][:200] if row.last_error else '-'}"
            )
        _out(f"{len(rows)} event(s) pending or set aside" if rows else "nothing pending")
    finally:
        db.dispose()
    return 0


def _declare(args: argparse.Namespace) -> int:
    policy = _policy()
    raw: dict[str, object] = {
        "title": args.title,
        "description": args.description,
        "severity": args.severity.lower(),
        "category": args.category or policy.categories[0],
        "impact": args.impact,
        "urgency": args.urgency,
        "affected_services": args.services,
        "is_private": args.private,
    }
    try:
        data = validate_declaration(raw, policy)
    except InvalidInput as exc:
        raise ConfigError("; ".join(exc.errors.values())) from None
    reporter = args.reporter or ""
    if reporter and reporter[:1] not in ("U", "W"):
        raise ConfigError("--reporter must be a Slack user ID such as U0123ABCD")
    db = _database()
    try:
        migrate.upgrade(db)
        with db.session() as session:
            incident = declare(
                session=session,
                data=data,
                reporter_id=reporter,
                policy=policy,
                now=SystemClock().now(),
                declared_via="cli",
            )
            reference = incident.reference
    finally:
        db.dispose()
    _out(
        f"{reference} declared ({data.severity}). A running bot sets up its channel and "
        "announcement at its next sweep, or as soon as Slack answers again."
    )
    return 0


def _day(text: str, flag: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date: write it like 2026-11-01") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _report(args: argparse.Namespace) -> int:
    policy = _policy()
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
    filters = process_metrics.Filters(
        start,
        end,
        tuple(args.severity),
        tuple(args.category),
        tuple(args.service),
        args.include_all,
    )
    label = f"{args.start} to {args.end} (UTC)"
    visible = process_reports.Everything() if args.include_private else set[str]()
    now = SystemClock().now()
    db = _database()
    try:
        with db.read_session() as session:
            if args.format == "csv":
                text = process_reports.to_csv(session, filters, visible)
            else:
                summary = process_summary.summarise(
                    session, policy, filters, now, include_private=args.include_private
                )
                if args.format == "json":
                    text = process_reports.to_json(summary, policy, label, visible)
                elif args.format == "html":
                    # matplotlib is imported only by the command that draws.
                    from bot.services import process_charts  # noqa: PLC0415

                    charts = process_charts.charts(session, policy, summary)
                    text = process_reports.html(summary, policy, label, visible, charts, now)
                else:
                    text = process_reports.markdown(summary, policy, label, visible)
    finally:
        db.dispose()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        _out(f"wrote {args.output}")
    return 0


def _migrate() -> int:
    db = _database()
    try:
        migrate.upgrade(db)
        _out(f"database at revision {migrate.current_revision(db)}")
    finally:
        db.dispose()
    return 0


def _check_config(path: Path | None) -> int:
    if path is None:
        env = os.environ.get("INCIDENT_BOT_CONFIG")
        if not env:
            policy = load_policy(None)
            _out("no policy file given (argument or INCIDENT_BOT_CONFIG): the defaults apply")
            _out(announcement_note(policy))
            for line in _outbound_notes(policy):
                _out(line)
            return 0
        path = Path(env)
    policy = load_policy(path)
    _out(
        f"{path}: OK ({len(policy.severities)} severities, {len(policy.categories)} categories, "
        f"{len(policy.roles)} roles)"
    )
    _out(announcement_note(policy))
    for line in alert_notes(policy):
        _out(line)
    for line in _outbound_notes(policy):
        _out(line)
    return 0


def _outbound_notes(policy: Policy) -> list[str]:
    """What email and paging will do with this environment's SMTP_URL and SMTP_FROM."""
    return outbound_notes(
        policy, os.environ.get("SMTP_URL") or None, os.environ.get("SMTP_FROM") or None
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run()
        if args.command == "migrate":
            return _migrate()
        if args.command == "pir":
            return _pir(args.reference, args.output, args.include_private)
        if args.command == "inbox":
            return _inbox(args.replay)
        if args.command == "report":
            return _report(args)
        if args.command == "declare":
            return _declare(args)
        if args.command == "actions":
            return _actions(args.overdue, args.include_private)
        return _check_config(args.path)
    except ConfigError as exc:
        sys.stderr.write(f"incident-bot: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
