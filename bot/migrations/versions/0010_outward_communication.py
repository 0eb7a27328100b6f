"""Outward communication: public updates and their approval, the status page's published
tables, and scheduled maintenance as announced.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 21:26:10.814196
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("started_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("status_incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_incident_resolved_at"), ["resolved_at"], unique=False
        )
        batch_op.create_index("ix_status_incident_started", ["started_at"], unique=False)

    op.create_table(
        "public_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("approver_id", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("approval_channel", sa.String(length=32), nullable=True),
        sa.Column("approval_ts", sa.String(length=32), nullable=True),
        sa.Column("status_incident_id", sa.Integer(), nullable=True),
        sa.Column("published_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["public_update.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_incident_id"],
            ["status_incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("public_update", schema=None) as batch_op:
        batch_op.create_index(
            "ix_public_update_incident", ["incident_id", "created_at"], unique=False
        )

    op.create_table(
        "status_incident_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status_incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("published_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["status_incident_id"],
            ["status_incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_incident_update", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_update_incident", ["status_incident_id", "published_at"], unique=False
        )
        batch_op.create_index("ix_status_update_published", ["published_at"], unique=False)

    op.create_table(
        "status_maintenance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("starts_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_window.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("status_maintenance", schema=None) as batch_op:
        batch_op.create_index("ix_status_maintenance_ends", ["ends_at"], unique=False)

    op.create_table(
        "status_component_impact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("status_incident_id", sa.Integer(), nullable=True),
        sa.Column("status_maintenance_id", sa.Integer(), nullable=True),
        sa.Column("started_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["status_incident_id"],
            ["status_incident.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_maintenance_id"],
            ["status_maintenance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_component_impact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_impact_component", ["component", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_component_impact", schema=None) as batch_op:
        batch_op.drop_index("ix_status_impact_component")

    op.drop_table("status_component_impact")
    with op.batch_alter_table("status_maintenance", schema=None) as batch_op:
        batch_op.drop_index("ix_status_maintenance_ends")

    op.drop_table("status_maintenance")
    with op.batch_alter_table("status_incident_update", schema=None) as batch_op:
        batch_op.drop_index("ix_status_update_published")
        batch_op.drop_index("ix_status_update_incident")

    op.drop_table("status_incident_update")
    with op.batch_alter_table("public_update", schema=None) as batch_op:
        batch_op.drop_index("ix_public_update_incident")

    op.drop_table("public_update")
    with op.batch_alter_table("status_incident", schema=None) as batch_op:
        batch_op.drop_index("ix_status_incident_started")
        batch_op.drop_index(batch_op.f("ix_status_incident_resolved_at"))

    op.drop_table("status_incident")
