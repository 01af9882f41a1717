"""approvals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:39:59.136100
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import herald.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("approval_decided_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approval_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "approval_requested_at", herald.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "approval_decided_at", herald.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("approval_decided_at")
        batch_op.drop_column("approval_requested_at")
        batch_op.drop_column("approval_reason")
        batch_op.drop_column("approval_decided_by")
        batch_op.drop_column("approval_status")
