"""inbound_log.sending_at and replied_at: which handled messages' replies went out

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_log") as batch:
        batch.add_column(
            sa.Column("sending_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("replied_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_inbound_log_platform_replied_at", ["platform", "replied_at"])
    # Messages handled before this migration are taken as answered.
    op.execute("UPDATE inbound_log SET replied_at = handled_at")


def downgrade() -> None:
    with op.batch_alter_table("inbound_log") as batch:
        batch.drop_index("ix_inbound_log_platform_replied_at")
        batch.drop_column("replied_at")
        batch.drop_column("sending_at")
