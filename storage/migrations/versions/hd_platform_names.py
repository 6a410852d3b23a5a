"""platform_addresses.first_name and last_name: the names the platform gave at join time

Kept with the platform address (contact details), so erasure and retention remove them with it;
reports and redacted exports use them to mask a person's own name in what they wrote.

Revision ID: hd
Revises: 0003
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hd"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_addresses") as batch:
        batch.add_column(sa.Column("first_name", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("last_name", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_addresses") as batch:
        batch.drop_column("last_name")
        batch.drop_column("first_name")
