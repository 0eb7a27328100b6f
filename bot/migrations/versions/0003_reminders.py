"""Reminders: what a scheduled task posted, and where; inbox retention index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:47:01.107734
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_received", ["state", "received_at"], unique=False)

    with op.batch_alter_table("scheduled_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("slack_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sent_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_task", schema=None) as batch_op:
        batch_op.drop_column("data")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("slack_ts")
        batch_op.drop_column("slack_channel")

    with op.batch_alter_table("event_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_received")
