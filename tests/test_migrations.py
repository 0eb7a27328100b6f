"""The alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.models  # noqa: F401
from bot import migrate
from bot.db import Database


def test_migrated_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    assert migrate.current_revision(db) == migrate.head_revision(db)


def test_upgrade_is_idempotent(db: Database) -> None:
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)


def test_upgrade_keeps_existing_rows(database_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    database = Database.from_url(database_url)
    try:
        migrate.upgrade(database, "0001")
        now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).replace(tzinfo=None)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO incident (title, description, severity, category, impact, "
                    "urgency, affected_services, is_private, reference, priority, status, "
                    "reporter_id, declared_at, updated_at, reporter_invited, summary_pinned, "
                    "confirmation_sent, failure_notice_sent) VALUES ('t', '', 'sev1', 'other', "
                    "'high', 'high', '', false, 'INC-20261122-001', 'P1', 'reported', 'U1', "
                    ":now, :now, false, false, false, false)"
                ),
                {"now": now},
            )
        migrate.upgrade(database)
        with database.engine.connect() as connection:
            row = connection.execute(text("SELECT root_cause, resolution FROM incident")).one()
        assert tuple(row) == ("", "")
    finally:
        database.dispose()
