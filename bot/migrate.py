"""Schema migrations through alembic, driven from code (no alembic.ini needed)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.db import Database

SCRIPT_LOCATION = "bot:migrations"


def alembic_config(db: Database) -> Config:
    """An alembic Config pointing at the bot's migrations and database."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option(
        "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


# Any constant: PostgreSQL advisory locks are named by a number shared by the replicas.
MIGRATION_LOCK_KEY = 0x1BC1DE07


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default).

    Replicas that start together with AUTO_MIGRATE take turns: the migration runs inside
    a transaction holding PostgreSQL's advisory lock (SQLite's BEGIN IMMEDIATE lets one
    writer in at a time), and whoever comes second finds the schema at the head already.
    """
    config = alembic_config(db)
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(db: Database) -> str | None:
    """The newest revision the code ships."""
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
