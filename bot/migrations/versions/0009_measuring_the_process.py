"""Measuring the process: closing reasons, root-cause categories, survey answers, and
scheduled report runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 19:20:57.298914
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report", sa.String(length=80), nullable=False),
        sa.Column("period_key", sa.String(length=40), nullable=False),
        sa.Column("period_start", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_until", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report", "period_key", name="uq_report_period"),
    )
    op.create_table(
        "survey_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("sent_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "user_id", name="uq_survey_person"),
    )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survey_response_incident_id"), ["incident_id"], unique=False
        )

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("root_cause_category", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("closing_reason", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_incident_declared_at", ["declared_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_declared_at")
        batch_op.drop_column("closing_reason")
        batch_op.drop_column("root_cause_category")

    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_response_incident_id"))

    op.drop_table("survey_response")
    op.drop_table("report_run")
