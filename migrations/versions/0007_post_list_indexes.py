"""post list indexes: status filters ordered by creation, scheduled_at ranges

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 18:27:25.998121
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_posts_workspace_status", table_name="posts")
    op.create_index(
        "ix_posts_workspace_status_created",
        "posts",
        ["workspace_id", "status", "created_at", "id"],
    )
    op.create_index("ix_posts_workspace_scheduled", "posts", ["workspace_id", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_posts_workspace_scheduled", table_name="posts")
    op.drop_index("ix_posts_workspace_status_created", table_name="posts")
    op.create_index("ix_posts_workspace_status", "posts", ["workspace_id", "status"])
