from __future__ import annotations

from sqlalchemy import text

from storage.db import async_url, make_engine
from storage.migrate import database_revision, head_revision


async def test_sqlite_uses_wal_and_foreign_keys(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()


def test_migrated_database_is_at_head(sqlite_url):
    assert database_revision(sqlite_url) == head_revision() is not None


def test_plain_urls_get_async_drivers():
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
