"""analytics: metric samples (the time series of post and account counters), exports, and
the index that finds an account's targets published in a range

Revision ID: 0016
Revises: 0017
Create Date: 2026-12-03 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import herald.db.types

revision = "0016"
down_revision = "0017"
branch_labels = None
depends_on = None

COUNTERS = (
    "impressions",
    "reach",
    "likes",
    "comments",
    "shares",
    "saves",
    "clicks",
    "video_views",
    "followers",
)


def upgrade() -> None:
    op.create_table(
        "metric_samples",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("metric_set", sa.String(length=16), nullable=False),
        sa.Column("sampled_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in COUNTERS),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["social_accounts.id"],
            name=op.f("fk_metric_samples_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_metric_samples_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_metric_samples_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["post_targets.id"],
            name=op.f("fk_metric_samples_target_id_post_targets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_metric_samples_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_samples")),
        sa.UniqueConstraint(
            "subject_id", "metric_set", "sampled_at", name=op.f("uq_metric_samples_subject_id")
        ),
    )
    op.create_index(
        "ix_metric_samples_brand_subject",
        "metric_samples",
        ["brand_id", "subject_id", "metric_set", "sampled_at"],
    )
    op.create_table(
        "analytics_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.Column("range_from", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("range_to", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", herald.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_analytics_exports_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_analytics_exports_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_exports")),
    )
    op.create_index(
        op.f("ix_analytics_exports_workspace_id"), "analytics_exports", ["workspace_id"]
    )
    op.create_index(
        "ix_post_targets_account_published", "post_targets", ["account_id", "published_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_post_targets_account_published", table_name="post_targets")
    op.drop_index(op.f("ix_analytics_exports_workspace_id"), table_name="analytics_exports")
    op.drop_table("analytics_exports")
    op.drop_index("ix_metric_samples_brand_subject", table_name="metric_samples")
    op.drop_table("metric_samples")
