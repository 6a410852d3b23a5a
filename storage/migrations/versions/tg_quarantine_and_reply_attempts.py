"""quarantined_updates (unreadable platform updates) and per-reply attempt counts in inbound_log

Revision ID: tg
Revises: im
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "tg"
down_revision = "im"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantined_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_ref", sa.String(length=128), nullable=True),
        sa.Column("user_ref", sa.String(length=128), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("received_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_updates")),
        sa.UniqueConstraint("platform", "update_id", name=op.f("uq_quarantined_updates_platform")),
    )
    op.create_index(
        "ix_quarantined_updates_platform_user_ref",
        "quarantined_updates",
        ["platform", "user_ref"],
    )
    op.create_index(
        "ix_quarantined_updates_platform_chat_ref",
        "quarantined_updates",
        ["platform", "chat_ref"],
    )
    with op.batch_alter_table("inbound_log") as batch:
        batch.add_column(
            sa.Column("replies_attempted", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("replies_uncertain", sa.Integer(), nullable=False, server_default="0")
        )
    # Before this revision sending_at meant "some reply may have gone": keep that reading.
    op.execute(
        "UPDATE inbound_log SET replies_attempted = 1 "
        "WHERE sending_at IS NOT NULL AND replied_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("inbound_log") as batch:
        batch.drop_column("replies_uncertain")
        batch.drop_column("replies_attempted")
    op.drop_index("ix_quarantined_updates_platform_chat_ref", table_name="quarantined_updates")
    op.drop_index("ix_quarantined_updates_platform_user_ref", table_name="quarantined_updates")
    op.drop_table("quarantined_updates")
