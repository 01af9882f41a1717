"""indexes for the reconciler's look at pending media validations and analytics exports

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 00:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_media_validations_status_created", "media_validations"),
    ("ix_analytics_exports_status_created", "analytics_exports"),
)


def upgrade() -> None:
    for name, table in _INDEXES:
        op.create_index(name, table, ["status", "created_at"])


def downgrade() -> None:
    for name, table in _INDEXES:
        op.drop_index(name, table_name=table)
