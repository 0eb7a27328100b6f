"""Set-up steps Slack refused for good, and rounds of *Retry now*.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:02:11.418210
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("setup_problems", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("setup_round", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("setup_round")
        batch_op.drop_column("setup_problems")
