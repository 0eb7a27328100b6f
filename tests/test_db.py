"""The database layer: aware UTC datetimes on both engines, SQLite tuned for concurrency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.cli import main
from bot.db import Database
from bot.migrate import current_revision, head_revision
from bot.models import Incident


def _incident(now: datetime) -> Incident:
    return Incident(
        title="t",
        severity="sev3",
        category="other",
        impact="low",
        urgency="low",
        reference=f"INC-{now:%Y%m%d}-001",
        priority="P4",
        reporter_id="U0ALICE",
        declared_at=now,
        updated_at=now,
    )


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    paris = timezone(timedelta(hours=1))
    declared = datetime(2026, 11, 22, 15, 30, 5, 123456, tzinfo=paris)
    with db.session() as session:
        session.add(_incident(declared))
    with db.session() as session:
        row = session.exec(select(Incident)).one()
    assert row.declared_at.tzinfo is not None
    assert row.declared_at.utcoffset() == timedelta(0)
    assert row.declared_at == declared
    assert row.declared_at.hour == 14


def test_naive_datetimes_are_refused(db: Database) -> None:
    naive = datetime(2026, 11, 22, 12, 0)
    with pytest.raises(Exception, match="naive datetime"), db.session() as session:
        session.add(_incident(naive))
        session.flush()


def test_sqlite_runs_in_wal_with_busy_timeout(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with database.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        database.dispose()


def test_migrate_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["migrate"]) == 0
    database = Database.from_url(url)
    try:
        assert current_revision(database) == head_revision(database)
    finally:
        database.dispose()
    assert "database at revision" in capsys.readouterr().out


def test_stored_moment_survives_engine_round_trip(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        session.add(_incident(now))
    with db.session() as session:
        assert session.exec(select(Incident)).one().declared_at == now


def test_connection_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    with db.session() as session:
        session.add(_incident(now))
    with db.connection() as connection:
        connection.execute(text("UPDATE incident SET title = 'kept'"))
    with pytest.raises(RuntimeError), db.connection() as connection:
        connection.execute(text("UPDATE incident SET title = 'undone'"))
        raise RuntimeError("boom")
    with db.connection() as connection:
        assert connection.execute(text("SELECT title FROM incident")).scalar() == "kept"
