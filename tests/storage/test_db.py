from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

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


async def test_database_errors_never_carry_the_statements_values(db_url):
    """A failing statement's error (logged with its traceback) names no value it was given: they
    are people's messages and chat ids."""
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError) as caught:
                await conn.execute(
                    text("INSERT INTO no_such_table (note) VALUES (:note)"),
                    {"note": "Kirsty's secret words"},
                )
    finally:
        await engine.dispose()
    shown = str(caught.value)
    assert "no_such_table" in shown  # the statement is still there to debug with
    assert "secret words" not in shown and "Kirsty" not in shown
