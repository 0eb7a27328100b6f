"""`incident-bot` / `python -m bot`: run, migrate, check-config, declare, and exports."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from bot import __version__, cli_exports, migrate
from bot.clock import SystemClock
from bot.db import Database
from bot.errors import ConfigError, InvalidInput
from bot.policy import Policy, load_policy, policy_notes
from bot.services import (
    event_inbox,
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


def _pir(args: argparse.Namespace) -> int:
    db = _database()
    try:
        with db.session() as session:
            text = cli_exports.pir(
                session, _policy(), args.reference, args.include_private, SystemClock().now()
            )
    finally:
        db.dispose()
    return _emit(text, args.output, end="\n")


def _actions(overdue: bool, include_private: bool) -> int:
    db = _database()
    try:
        with db.session() as session:
            lines = cli_exports.actions(
                session, overdue, include_private, SystemClock().now().date()
            )
    finally:
        db.dispose()
    for line in lines:
        _out(line)
    return 0


def _report(args: argparse.Namespace) -> int:
    policy = _policy()
    query = cli_exports.report_query(policy, args)  # the arguments checked before the database
    db = _database()
    try:
        with db.read_session() as session:
            text = cli_exports.report(session, policy, query, args, SystemClock().now())
    finally:
        db.dispose()
    return _emit(text, args.output)


def _emit(text: str, output: Path | None, *, end: str = "") -> int:
    """Print `text` (and `end`), or write it to `output` and say so."""
    if output is None:
        sys.stdout.write(text + end)
    else:
        output.write_text(text, encoding="utf-8")
        _out(f"wrote {output}")
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
        path = (
            Path(os.environ["INCIDENT_BOT_CONFIG"])
            if os.environ.get("INCIDENT_BOT_CONFIG")
            else None
        )
    policy = load_policy(path)
    if path is None:
        _out("no policy file given (argument or INCIDENT_BOT_CONFIG): the defaults apply")
    else:
        _out(
            f"{path}: OK ({len(policy.severities)} severities, "
            f"{len(policy.categories)} categories, {len(policy.roles)} roles)"
        )
    smtp = (os.environ.get("SMTP_URL") or None, os.environ.get("SMTP_FROM") or None)
    for line in policy_notes(policy, *smtp):
        _out(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run()
        if args.command == "migrate":
            return _migrate()
        if args.command == "pir":
            return _pir(args)
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
