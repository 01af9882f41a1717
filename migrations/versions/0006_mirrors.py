"""mirrors

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 15:47:37.349532
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import herald.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "mirrors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_account_id", sa.Uuid(), nullable=False),
        sa.Column(
            "target_account_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("future_content_enabled", sa.Boolean(), nullable=False),
        sa.Column("existing_content_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "existing_content_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("cursor", sa.String(length=255), nullable=True),
        sa.Column("last_checked", herald.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_enabled_at", herald.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_account_id"],
            ["social_accounts.id"],
            name=op.f("fk_mirrors_source_account_id_social_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_mirrors_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirrors")),
    )
    with op.batch_alter_table("mirrors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mirrors_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "mirror_posts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mirror_id", sa.Uuid(), nullable=False),
        sa.Column("source_post_id", sa.String(length=255), nullable=False),
        sa.Column("source_created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detected_status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("scheduled_for", herald.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column(
            "platform_metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mirror_id"],
            ["mirrors.id"],
            name=op.f("fk_mirror_posts_mirror_id_mirrors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_mirror_posts_post_id_posts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirror_posts")),
        sa.UniqueConstraint("mirror_id", "source_post_id", name=op.f("uq_mirror_posts_mirror_id")),
    )


def downgrade() -> None:

    op.drop_table("mirror_posts")
    with op.batch_alter_table("mirrors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirrors_workspace_id"))

    op.drop_table("mirrors")
