"""target next_attempt_at: when a target that met a retryable error is tried again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import herald.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "post_targets",
        sa.Column("next_attempt_at", herald.db.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("post_targets") as batch_op:
        batch_op.drop_column("next_attempt_at")
