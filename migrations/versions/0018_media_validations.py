"""media validations: a request to check media against each platform again, and its results

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-03 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import herald.db.types

revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "media_validations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("media_ids", _JSON, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("results", _JSON, nullable=False),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", herald.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_media_validations_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_validations")),
    )
    with op.batch_alter_table("media_validations", schema=None) as batch_op:
        batch_op.create_index("ix_media_validations_workspace", ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_validations", schema=None) as batch_op:
        batch_op.drop_index("ix_media_validations_workspace")

    op.drop_table("media_validations")
