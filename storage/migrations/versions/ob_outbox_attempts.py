"""outbox.attempt_at and uncertain_parts: a durable "about to send" mark per part

Revision ID: ob
Revises: og
Create Date: 2026-12-01 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "ob"
down_revision = "og"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("uncertain_parts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("attempt_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("attempt_at")
        batch.drop_column("uncertain_parts")
