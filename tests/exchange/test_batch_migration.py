"""Migration ``im``: import batches and revocable invites, matching the models on both back ends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from storage.migrate import upgrade

LEGACY = [
    ("R-1", "import:aaaa:2", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
    ("R-2", "import:aaaa:3", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
    ("R-3", "import:bbbb:2", datetime(2026, 3, 5, 10, 0, tzinfo=UTC)),
]


async def _run(url: str, statements: list[tuple[str, dict[str, object]]]) -> list[list[tuple]]:
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(url)
    results = []
    try:
        async with engine.begin() as conn:
            for sql, params in statements:
                result = await conn.execute(text(sql), params)
                results.append([tuple(r) for r in result] if result.returns_rows else [])
    finally:
        await engine.dispose()
    return results


def _check_gathering(url: str) -> None:
    upgrade(url, "0003")
    asyncio.run(
        _run(
            url,
            [
                (
                    "INSERT INTO responses (response_uid, campaign_id, flow_id, step_id, "
                    "group_id, channel, kind, answer, source, source_msg_id, answered_at) VALUES "
                    "(:uid, 'leeds-2026', 'import', 'workshop', 'vcs', 'import', 'open', 'x', "
                    "'workshop', :msg, :at)",
                    {"uid": uid, "msg": msg, "at": at},
                )
                for uid, msg, at in LEGACY
            ]
            + [
                (
                    "INSERT INTO invites (code, campaign_id, group_id, uses, created_at) VALUES "
                    "('Bx1qRgByDg5I', 'leeds-2026', 'la', 0, :at)",
                    {"at": LEGACY[0][2]},
                )
            ],
        )
    )
    upgrade(url)
    batches, linked, invite = asyncio.run(
        _run(
            url,
            [
                (
                    "SELECT id, fingerprint, rows, imported_by, imported_at FROM import_batches "
                    "ORDER BY fingerprint",
                    {},
                ),
                ("SELECT response_uid, import_batch_id FROM responses ORDER BY response_uid", {}),
                ("SELECT code, revoked_at FROM invites", {}),
            ],
        )
    )
    assert [(b[1], b[2], b[3]) for b in batches] == [
        ("aaaa", 2, "(before import batches)"),
        ("bbbb", 1, "(before import batches)"),
    ]
    assert str(batches[0][4]).startswith("2026-03-01 09:00")
    assert [batch for _, batch in linked] == [batches[0][0], batches[0][0], batches[1][0]]
    assert invite == [("Bx1qRgByDg5I", None)]


def test_comments_imported_before_batches_become_one_batch_per_file_on_sqlite(tmp_path):
    _check_gathering(f"sqlite:///{tmp_path / 'old.db'}")


def test_comments_imported_before_batches_become_one_batch_per_file_on_postgres(
    request: pytest.FixtureRequest,
):
    base = request.getfixturevalue("postgres_ready")
    from sqlalchemy.engine import make_url

    name = f"lbim_{uuid.uuid4().hex[:10]}"
    admin = make_url(base).render_as_string(hide_password=False)

    async def run_admin(statement: str) -> None:
        from sqlalchemy import text

        from storage.db import make_engine

        engine = make_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run_admin(f'CREATE DATABASE "{name}"'))
    try:
        _check_gathering(make_url(base).set(database=name).render_as_string(hide_password=False))
    finally:
        asyncio.run(run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.db import make_engine
    from storage.models import Base

    async def compare() -> list[object]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def _ours(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in ("import_batch", "revoked_at"))


def test_models_and_migration_match_on_sqlite(sqlite_url):
    assert [d for d in _differences(sqlite_url) if _ours(d)] == []


def test_models_and_migration_match_on_postgres(request: pytest.FixtureRequest):
    url = request.getfixturevalue("postgres_ready")
    assert [d for d in _differences(url) if _ours(d)] == []
