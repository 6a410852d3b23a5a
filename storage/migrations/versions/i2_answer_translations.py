"""responses.translation and responses.translated_at: organisers' English translations of answers

Revision ID: i2
Revises: ln
Create Date: 2026-12-01 18:50:00

`import --translation-of` stores a human translation beside the answer (never in its place), so
theme analysis can read answers written in other languages. Being columns of ``responses``,
translations are the answer's author's data: subject access shows them and erasure removes them
with the answer. Both columns are nullable and added in place (no batch rebuild on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "i2"
down_revision = "ln"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("translation", sa.Text(), nullable=True))
    op.add_column(
        "responses",
        sa.Column("translated_at", storage.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("responses", "translated_at")
    op.drop_column("responses", "translation")
