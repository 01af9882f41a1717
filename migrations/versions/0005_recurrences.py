"""recurrences

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 15:44:49.814536
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import herald.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "recurrences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("freq", sa.String(length=16), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column(
            "by_weekday",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "by_month_day",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("start_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", herald.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column(
            "fired",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_recurrences_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_recurrences_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurrences")),
        sa.UniqueConstraint("post_id", name=op.f("uq_recurrences_post_id")),
    )
    with op.batch_alter_table("recurrences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recurrences_workspace_id"), ["workspace_id"], unique=False
        )

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recurrence_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_posts_recurrence_id"), ["recurrence_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posts_recurrence_id"))
        batch_op.drop_column("recurrence_id")

    with op.batch_alter_table("recurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recurrences_workspace_id"))

    op.drop_table("recurrences")
