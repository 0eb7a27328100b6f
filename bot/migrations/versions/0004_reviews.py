"""Post-incident review drafts, follow-up actions, process heartbeats.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:15:42.560339
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_heartbeat",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("started_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("process_heartbeat", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_process_heartbeat_last_seen_at"), ["last_seen_at"], unique=False
        )

    op.create_table(
        "action_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("done_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "number", name="uq_action_number"),
    )
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_item_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "pir_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("file_id", sa.String(length=32), nullable=True),
        sa.Column("history_calls", sa.Integer(), nullable=False),
        sa.Column("template_error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "version", name="uq_pir_version"),
    )
    with op.batch_alter_table("pir_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pir_draft_incident_id"), ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pir_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pir_draft_incident_id"))

    op.drop_table("pir_draft")
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_item_incident_id"))

    op.drop_table("action_item")
    with op.batch_alter_table("process_heartbeat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_heartbeat_last_seen_at"))

    op.drop_table("process_heartbeat")
