"""Database engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from bot.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "incident_bot_read_only"  # an execution option: a transaction that only reads
# A pooled PostgreSQL connection idle this long is checked before it is used again.
PING_AFTER_IDLE_SECONDS = 10.0
# RETURNING (claims, inserts that report their id) arrived in SQLite 3.35.
MIN_SQLITE = (3, 35, 0)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the bot stores timezone-aware UTC datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and write transactions that take the lock up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # BEGIN IMMEDIATE: a writer waits for the lock at the start (honouring busy_timeout)
        # instead of failing with SQLITE_BUSY when it upgrades a read lock mid-transaction.
        # A reader (`Database.read_session`) takes a snapshot and no lock: WAL lets the
        # writers go on while a long report reads.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def check_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """Refuse an SQLite library too old for the statements the bot runs."""
    if version < MIN_SQLITE:
        found = ".".join(str(part) for part in version)
        needed = ".".join(str(part) for part in MIN_SQLITE)
        raise ConfigError(
            f"SQLite {found} is too old: the bot needs {needed} or newer (for RETURNING). "
            "Use a newer Python build, or PostgreSQL (DATABASE_URL=postgresql://…)."
        )


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine configured for the URL's database.

    Statement parameters are left out of error messages and logs (`hide_parameters`): they
    hold people's messages and the payloads of Slack's events.
    """
    if url.startswith("sqlite"):
        check_sqlite_version()
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=StaticPool if memory else None,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=10,
        max_overflow=20,
    )
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle for a while.

    A connection that served a request a moment ago is alive; one that sat in the pool
    through a database restart or a firewall's idle cut is not. Pinging on every checkout
    (SQLAlchemy's `pool_pre_ping`) costs a round trip per transaction; pinging after
    `PING_AFTER_IDLE_SECONDS` keeps the safety where it matters. A failed ping makes the
    pool replace the connection and try again (`DisconnectionError`).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc


@lru_cache(maxsize=32)
def insert_or_ignore(
    table: Table, columns: tuple[str, ...], key: str | tuple[str, ...], dialect: str
) -> Any:
    """`INSERT … ON CONFLICT (key) DO NOTHING RETURNING id`, with bind parameters, built once.

    Executed with a dict of the columns' values; `.scalar()` is the new id, or None when a
    row with that key was there already. Both engines support the statement.
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .on_conflict_do_nothing(index_elements=[key] if isinstance(key, str) else list(key))
        .returning(table.c.id)
    )


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite takes one writer at a time and every transaction here starts with BEGIN
        # IMMEDIATE; queueing the threads of this process on a lock wakes the next one at
        # once, where SQLite's busy handler would poll with sleeps of up to 100 ms.
        self._lock: threading.RLock | None = (
            threading.RLock() if engine.dialect.name == "sqlite" else None
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Build from a SQLAlchemy URL."""
        return cls(make_engine(url))

    @property
    def is_sqlite(self) -> bool:
        """Whether the engine is SQLite."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._lock or nullcontext(), Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for long reads (reports, metrics): one consistent snapshot that never
        holds SQLite's writer lock, and writes nothing (rolled back at the end)."""
        with (
            self._lock or nullcontext(),
            self.engine.connect().execution_options(**{READ_ONLY: True}) as connection,
            Session(bind=connection, expire_on_commit=False) as session,
        ):
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a transaction that commits on success and rolls back on
        error: for a short statement that needs no ORM session (it costs a third of one)."""
        with self._lock or nullcontext(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A Core connection whose each statement commits on its own: one round trip for
        a single-statement write (PostgreSQL; a transaction would add BEGIN and COMMIT)."""
        with (
            self._lock or nullcontext(),
            self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        ):
            yield connection

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A Core connection for one statement that stands on its own (a claim, a purge, a
        renewal): committed by itself in one round trip on PostgreSQL; on SQLite the usual
        write transaction, which takes the one writer's lock up front."""
        with self.connection() if self.is_sqlite else self.autocommit() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
