"""What the benchmark scripts share.

The client for the fake Slack process (bench/fake_slack_process.py), fresh databases (a
SQLite file or a PostgreSQL schema of its own) and the flags that choose them, signed
requests, percentiles, bulk inserts, and the bot set up as the benchmarks run it: a started
`Runtime`, a `Context` on a fixed clock, or a bare Bolt app as the baseline.

Importing this module puts the repository root on `sys.path`, so a script run as
`python bench/<name>.py` from the root finds the `bot` package.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.context import Context  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.policy import Policy, default_policy  # noqa: E402
from bot.policy_defaults import default_policy_data  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.server import make_server  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.slack.gateway import SlackGateway, make_clients  # noqa: E402

SECRET = "bench-secret"
TOKEN = "xoxb-bench"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENGINES = ("sqlite", "postgresql")

Values = dict[str, Any]  # one row for a bulk insert

_VERIFIER = SignatureVerifier(SECRET)


# --- the fake Slack ------------------------------------------------------------------------


class FakeSlackProcess:
    """bench/fake_slack_process.py in a process of its own, seen from a benchmark.

    `info` holds the fake's API URL, team, user and channel; `ask` sends one request line
    (see that script for the protocol) and returns its JSON answer.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fake_slack_process.py"), SECRET, TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()
        self.info: dict[str, str] = json.loads(self._line())

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Slack process ended unexpectedly")
        return line

    def ask(self, request: str) -> Any:
        """Send one request line and read its JSON answer."""
        assert self.proc.stdin is not None
        with self.lock:
            self.proc.stdin.write(request + "\n")
            self.proc.stdin.flush()
            return json.loads(self._line())

    def close(self) -> None:
        """Stop the process."""
        try:
            self.ask("quit")
        finally:
            self.proc.wait(timeout=10)


def signed_headers(body: bytes, content_type: str, timestamp: str | None = None) -> dict[str, str]:
    """Headers for a POST of `body` to /slack/events, signed with SECRET (`timestamp`: now)."""
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    signature = _VERIFIER.generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


def command_body(
    info: dict[str, str], text: str, trigger_id: str, channel: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A signed `/incident TEXT` slash command from the fake's user, in `channel` (the
    fake's channel unless told), with its body and headers."""
    body = urllib.parse.urlencode(
        {
            "team_id": info["team"],
            "channel_id": channel or info["channel"],
            "user_id": info["user"],
            "command": "/incident",
            "text": text,
            "trigger_id": trigger_id,
            "response_url": info["api_url"].replace("/api/", "/response/bench"),
        }
    ).encode()
    return body, signed_headers(body, "application/x-www-form-urlencoded")


# --- the bot and the baseline --------------------------------------------------------------


def start_runtime(info: dict[str, str], database_url: str) -> Runtime:
    """The bot under its real HTTP server on a free port, talking to the fake Slack in `info`
    (whose channel is the announcement channel), without the sweeper."""
    data = default_policy_data()
    data["announcement_channel"] = info["channel"]
    settings = Settings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=info["api_url"],
        database_url=database_url,
        port=0,
        host="127.0.0.1",
        _env_file=None,
    )
    runtime = Runtime(settings, policy=Policy.model_validate(data), sweep=False)
    runtime.start()
    return runtime


def bare_server(api_url: str, db: Database, threads: int, listen: Callable[[App], object]) -> Any:
    """A Bolt app set up as the bot's, with only the listeners `listen` adds to it, under the
    bot's waitress server set-up on a free port, serving from a daemon thread."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=api_url),
        token_verification_enabled=False,
    )
    listen(app)
    server = make_server(app, db, host="127.0.0.1", port=0, threads=threads)
    threading.Thread(target=server.run, daemon=True).start()
    return server


def make_context(
    db: Database, api_url: str, now: datetime, policy: Policy | None = None
) -> Context:
    """A context on `db` whose Slack is the fake at `api_url` and whose clock stands at `now`
    (`policy`: the built-in one)."""
    retrying, creating = make_clients(TOKEN, api_url)
    return Context(
        policy=policy if policy is not None else default_policy(),
        db=db,
        slack=SlackGateway(retrying, creating),
        clock=ManualClock(now),
    )


# --- databases -----------------------------------------------------------------------------


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--engines` and `--pg-url` flags."""
    parser.add_argument(
        "--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL),
        help="PostgreSQL server (a schema of its own is created and dropped)",
    )


def chosen_engines(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The engines named by `--engines`, in order; an unknown one is a usage error."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    return engines


@contextmanager
def fresh_database(engine: str, tmp: str, pg_url: str, name: str) -> Iterator[str]:
    """A fresh database URL: the SQLite file `<tmp>/<name>.db`, or a PostgreSQL schema of its
    own on the server at `pg_url`, dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp}/{name}.db"
        return
    base = Settings.normalise_database_url(pg_url)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = Database.from_url(base)
    try:
        with admin.engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        raise SystemExit(f"PostgreSQL at {pg_url} is not usable: {exc}") from exc
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bulk_insert(db: Database, table: Any, rows: list[Values], batch: int = 5000) -> None:
    """Insert `rows` into `table` with Core executemany, `batch` rows at a time, in one
    transaction."""
    with db.engine.begin() as connection:
        for offset in range(0, len(rows), batch):
            connection.execute(insert(table), rows[offset : offset + batch])


def vacuum_analyze(db: Database, tables: Iterable[str]) -> None:
    """On PostgreSQL, VACUUM ANALYZE `tables`: what autovacuum would have done by now in a
    real deployment. Nothing on SQLite (the bot never runs ANALYZE)."""
    if db.is_sqlite:
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in tables:
            connection.execute(text(f"VACUUM ANALYZE {name}"))


# --- figures -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values`: the value at rank int(q * n) of the sorted values, or
    the largest."""
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


# --- reporting --------------------------------------------------------------------------------

ROUNDS = 3  # each comparison is run this many times, interleaved, and its median ratio printed


def spread(values: list[float], digits: int = 2) -> str:
    """`median (min-max)` of some figures."""
    low, high = min(values), max(values)
    return f"{statistics.median(values):.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def cores() -> str:
    """The machine's cores, and how many this process may use."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{os.cpu_count()} cores ({usable} usable by this process)"


def engine_versions(urls: dict[str, str]) -> str:
    """Python, SQLAlchemy and psycopg, and each engine's own version (asked of the server)."""
    parts = [
        f"Python {platform.python_version()}",
        f"SQLAlchemy {version('sqlalchemy')}",
        f"psycopg {version('psycopg')}",
    ]
    for engine, url in urls.items():
        if engine == "sqlite":
            parts.append(f"SQLite {sqlite3.sqlite_version}")
            continue
        db = Database.from_url(url)
        try:
            with db.engine.connect() as connection:
                parts.append(
                    f"PostgreSQL {connection.exec_driver_sql('SHOW server_version').scalar()}"
                )
        finally:
            db.dispose()
    return ", ".join(parts)
