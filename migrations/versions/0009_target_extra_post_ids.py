"""target extra post ids: thread replies and first comments made with a target's post

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column is plain ALTER TABLE ... ADD COLUMN on both databases (no table copy).
    op.add_column(
        "post_targets",
        sa.Column(
            "extra_post_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("post_targets") as batch_op:
        batch_op.drop_column("extra_post_ids")
