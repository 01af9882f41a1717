"""media sizes in 64 bits: a video of 2 GiB or more overflowed Postgres' integer

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-03 07:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None

_COLUMNS = ("declared_size", "size")


def upgrade() -> None:
    # SQLite's INTEGER holds 64 bits already.
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.alter_column("media", column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.alter_column("media", column, type_=sa.Integer(), existing_type=sa.BigInteger())
