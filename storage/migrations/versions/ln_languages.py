"""participants.language and responses.language: each person's language, on every answer

Revision ID: ln
Revises: tg
Create Date: 2026-12-01 16:40:00

Both columns are nullable and added in place (no batch rebuild on SQLite, which would cascade
deletes through the foreign keys): rows stored before languages existed keep NULL, which every
reader takes as the config's default language.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ln"
down_revision = "tg"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("participants", sa.Column("language", sa.String(length=16), nullable=True))
    op.add_column("responses", sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("responses", "language")
    op.drop_column("participants", "language")
