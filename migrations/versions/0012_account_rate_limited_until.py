"""account rate_limited_until: until when a platform told Herald to leave the account alone

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import herald.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "social_accounts",
        sa.Column("rate_limited_until", herald.db.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("social_accounts") as batch_op:
        batch_op.drop_column("rate_limited_until")
