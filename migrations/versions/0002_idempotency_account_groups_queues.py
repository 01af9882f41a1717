"""idempotency, account groups, queues

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:53:28.471568
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import herald.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "account_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "account_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_account_groups_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_groups")),
    )
    with op.batch_alter_table("account_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_groups_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column(
            "response_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_idempotency_records_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint(
            "workspace_id", "key", name=op.f("uq_idempotency_records_workspace_id")
        ),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "account_queues",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "slots",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["social_accounts.id"],
            name=op.f("fk_account_queues_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_queues")),
    )
    op.create_table(
        "queue_slot_claims",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("slot_at", herald.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["social_accounts.id"],
            name=op.f("fk_queue_slot_claims_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["post_targets.id"],
            name=op.f("fk_queue_slot_claims_target_id_post_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_slot_claims")),
        sa.UniqueConstraint("account_id", "slot_at", name=op.f("uq_queue_slot_claims_account_id")),
    )
    with op.batch_alter_table("queue_slot_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_slot_claims_target_id"), ["target_id"], unique=False
        )

    with op.batch_alter_table("post_targets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheduled_at", herald.db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("post_targets", schema=None) as batch_op:
        batch_op.drop_column("scheduled_at")

    with op.batch_alter_table("queue_slot_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_slot_claims_target_id"))

    op.drop_table("queue_slot_claims")
    op.drop_table("account_queues")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_expires_at"))

    op.drop_table("idempotency_records")
    with op.batch_alter_table("account_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_groups_workspace_id"))

    op.drop_table("account_groups")
