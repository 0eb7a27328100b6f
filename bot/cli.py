"""`incident-bot` / `python -m bot`: run, migrate, check-config."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from bot import __version__, migrate
from bot.db import Database
from bot.errors import ConfigError
from bot.policy import load_policy
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
    return parser


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _run() -> int:
    # Bolt, waitress and the scheduler are imported only by the command that needs them.
    from bot.runtime import Runtime  # noqa: PLC0415

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    runtime = Runtime(settings)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    runtime.start()
    try:
        runtime.wait()
    finally:
        runtime.stop()
    return 0


def _migrate() -> int:
    # Only the database is needed here, so the Slack settings need not be set.
    default = str(Settings.model_fields["database_url"].default)
    url = Settings.normalise_database_url(os.environ.get("DATABASE_URL") or default)
    db = Database.from_url(url)
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
            load_policy(None)
            _out("no policy file given (argument or INCIDENT_BOT_CONFIG): the defaults apply")
            return 0
        path = Path(env)
    policy = load_policy(path)
    _out(
        f"{path}: OK ({len(policy.severities)} severities, {len(policy.categories)} categories, "
        f"{len(policy.roles)} roles)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run()
        if args.command == "migrate":
            return _migrate()
        return _check_config(args.path)
    except ConfigError as exc:
        sys.stderr.write(f"incident-bot: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
