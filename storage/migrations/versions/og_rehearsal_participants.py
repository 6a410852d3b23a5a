"""participants.rehearsal: console rehearsals kept apart from live data

Revision ID: og
Revises: dp01
Create Date: 2026-12-01 15:40:00

Participants who only ever spoke through the console adapter were rehearsals (the console is a
rehearsal by contract), so they are marked as such; their answers leave live figures at once.

No batch mode on SQLite: rebuilding ``participants`` would drop the old table, and with foreign
keys on, that deletes every row that refers to a participant (ON DELETE CASCADE). SQLite adds a
NOT NULL column with a constant default in place, and drops one in place since 3.35.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "og"
down_revision = "dp01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "participants",
        sa.Column("rehearsal", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_participants_rehearsal", "participants", ["rehearsal"])
    op.execute(
        sa.text(
            "UPDATE participants SET rehearsal = :yes WHERE id IN "
            "(SELECT participant_id FROM platform_addresses WHERE platform = 'console') "
            "AND id NOT IN "
            "(SELECT participant_id FROM platform_addresses WHERE platform != 'console')"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    op.drop_index("ix_participants_rehearsal", table_name="participants")
    op.drop_column("participants", "rehearsal")
