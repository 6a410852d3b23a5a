"""import batches (list and undo an import) and revocable invites

Revision ID: im
Revises: ob
Create Date: 2026-12-01 15:40:00

Responses imported before this revision are gathered into one batch per imported file (the file's
fingerprint is in their ``source_msg_id``), so they too can be listed and undone.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "im"
down_revision = "ob"
branch_labels = None
depends_on = None

_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=128), nullable=False),
        sa.Column("imported_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    with op.batch_alter_table("import_batches") as batch:
        batch.create_index(batch.f("ix_import_batches_campaign_id"), ["campaign_id"], unique=False)
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("import_batch_id", sa.String(length=32), nullable=True))
        batch.create_index(
            batch.f("ix_responses_import_batch_id"), ["import_batch_id"], unique=False
        )
    with op.batch_alter_table("invites") as batch:
        batch.add_column(
            sa.Column("revoked_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    _gather_earlier_imports()


def _gather_earlier_imports() -> None:
    """One batch per file imported before batches existed (``import:<fingerprint>:<row>``)."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text(
            "SELECT campaign_id, source, source_msg_id, answered_at FROM responses "
            "WHERE channel = 'import' AND source_msg_id LIKE 'import:%'"
        )
    ).all()
    batches: dict[tuple[str, str], dict[str, object]] = {}
    for campaign_id, source, msg_id, answered_at in found:
        fingerprint = str(msg_id).split(":")[1]
        entry = batches.setdefault(
            (campaign_id, fingerprint),
            {"source": source or "import", "rows": 0, "at": answered_at},
        )
        entry["rows"] = int(entry["rows"]) + 1  # type: ignore[call-overload]
    table = sa.table(
        "import_batches",
        sa.column("id", sa.String),
        sa.column("campaign_id", sa.String),
        sa.column("file_name", sa.String),
        sa.column("source", sa.String),
        sa.column("fingerprint", sa.String),
        sa.column("rows", sa.Integer),
        sa.column("imported_by", sa.String),
        sa.column("imported_at", storage.models.UTCDateTime(timezone=True)),
    )
    for (campaign_id, fingerprint), entry in batches.items():
        batch_id = "B-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))
        first = bind.execute(
            sa.text("SELECT MIN(answered_at) FROM responses WHERE source_msg_id LIKE :p"),
            {"p": f"import:{fingerprint}:%"},
        ).scalar()
        bind.execute(
            table.insert().values(
                id=batch_id,
                campaign_id=campaign_id,
                file_name=str(entry["source"]),
                source=str(entry["source"]),
                fingerprint=fingerprint,
                rows=entry["rows"],
                imported_by="(before import batches)",
                imported_at=_aware(first),
            )
        )
        bind.execute(
            sa.text(
                "UPDATE responses SET import_batch_id = :b "
                "WHERE campaign_id = :c AND source_msg_id LIKE :p"
            ),
            {"b": batch_id, "c": campaign_id, "p": f"import:{fingerprint}:%"},
        )


def _aware(value: object) -> object:
    from datetime import UTC, datetime

    if isinstance(value, str):  # SQLite hands raw text back from a plain SELECT
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value is not None else datetime.now(UTC)


def downgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("revoked_at")
    with op.batch_alter_table("responses") as batch:
        batch.drop_index(batch.f("ix_responses_import_batch_id"))
        batch.drop_column("import_batch_id")
    with op.batch_alter_table("import_batches") as batch:
        batch.drop_index(batch.f("ix_import_batches_campaign_id"))
    op.drop_table("import_batches")
