"""Follow-up actions keep their whole text (it was cut at 1,000 characters); an incident
counts its changes (`revision`), so that what shows it in Slack is never older than it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.alter_column(
            "text", existing_type=sa.String(length=1000), type_=sa.Text(), nullable=False
        )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("revision")
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.alter_column(
            "text", existing_type=sa.Text(), type_=sa.String(length=1000), nullable=False
        )
