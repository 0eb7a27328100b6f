"""At most one active holder per role; when the review meeting was held.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("ended_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_held_at", bot.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Before the constraint: of two active holders of one role (a race the constraint now
    # prevents), the later assignment stands and the earlier one ends when it began.
    op.execute(
        """
        UPDATE role_assignment SET ended_at = (
            SELECT MIN(later.assigned_at) FROM role_assignment AS later
            WHERE later.incident_id = role_assignment.incident_id
              AND later.role = role_assignment.role
              AND later.ended_at IS NULL
              AND later.id > role_assignment.id
        )
        WHERE ended_at IS NULL AND EXISTS (
            SELECT 1 FROM role_assignment AS later
            WHERE later.incident_id = role_assignment.incident_id
              AND later.role = role_assignment.role
              AND later.ended_at IS NULL
              AND later.id > role_assignment.id
        )
        """
    )
    op.create_index(
        "uq_role_active",
        "role_assignment",
        ["incident_id", "role"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_role_active", table_name="role_assignment")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("review_held_at")
