"""participants.rehearsal: console rehearsals kept apart from live data

Revision ID: og
Revises: 0003
Create Date: 2026-12-01 15:40:00

Participants who only ever spoke through the console adapter were rehearsals (the console is a
rehearsal by contract), so they are marked as such; their answers leave live figures at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "og"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(
            sa.Column("rehearsal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.create_index("ix_participants_rehearsal", ["rehearsal"])
    op.execute(
        sa.text(
            "UPDATE participants SET rehearsal = :yes WHERE id IN "
            "(SELECT participant_id FROM platform_addresses WHERE platform = 'console') "
            "AND id NOT IN "
            "(SELECT participant_id FROM platform_addresses WHERE platform != 'console')"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_index("ix_participants_rehearsal")
        batch.drop_column("rehearsal")
