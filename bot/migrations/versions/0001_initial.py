"""Initial schema: incidents, references, scheduled tasks, timeline.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:09:00.171965
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_sequence",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "incident",
        sa.Column("title", sa.String(length=150), nullable=False),
        sa.Column("description", sa.String(length=3000), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("impact", sa.String(length=10), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("affected_services", sa.String(length=500), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reporter_id", sa.String(length=32), nullable=False),
        sa.Column("commander_id", sa.String(length=32), nullable=True),
        sa.Column("declared_in_channel", sa.String(length=32), nullable=True),
        sa.Column("declared_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("impact_started_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("identified_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mitigated_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("channel_name", sa.String(length=80), nullable=True),
        sa.Column("reporter_invited", sa.Boolean(), nullable=False),
        sa.Column("topic", sa.String(length=250), nullable=True),
        sa.Column("summary_ts", sa.String(length=32), nullable=True),
        sa.Column("summary_pinned", sa.Boolean(), nullable=False),
        sa.Column("announcement_channel_id", sa.String(length=32), nullable=True),
        sa.Column("announcement_ts", sa.String(length=32), nullable=True),
        sa.Column("confirmation_sent", sa.Boolean(), nullable=False),
        sa.Column("failure_notice_sent", sa.Boolean(), nullable=False),
        sa.Column("provisioned_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_reference"), ["reference"], unique=True)
        batch_op.create_index(batch_op.f("ix_incident_status"), ["status"], unique=False)

    op.create_table(
        "scheduled_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_until", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "kind", "key", name="uq_task_incident_kind_key"),
    )
    with op.batch_alter_table("scheduled_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_task_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_task_due", ["state", "due_at"], unique=False)

    op.create_table(
        "timeline_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("timeline_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_incident_at", ["incident_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timeline_event", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_incident_at")

    op.drop_table("timeline_event")
    with op.batch_alter_table("scheduled_task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_due")
        batch_op.drop_index(batch_op.f("ix_scheduled_task_incident_id"))

    op.drop_table("scheduled_task")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_status"))
        batch_op.drop_index(batch_op.f("ix_incident_reference"))

    op.drop_table("incident")
    op.drop_table("daily_sequence")
