"""Engines and sessions: one place that knows database URLs, drivers and SQLite pragmas."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage.rehearsal import VIEW_KEY, DataView


def async_url(url: str) -> str:
    """Pick the async driver for a plain ``sqlite://`` or ``postgresql://`` URL."""
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    SQLite transactions begin with ``BEGIN IMMEDIATE``: the write lock is taken up front, so two
    transactions never deadlock upgrading a read lock (SQLite would fail one at once, without
    waiting), and SAVEPOINTs work (SQLAlchemy's documented recipe for pysqlite/aiosqlite).

    Statement parameters are hidden (``hide_parameters``): they hold people's messages, chat ids
    and names, and SQLAlchemy would otherwise print them in every database error, which reaches
    the log at ERROR level with its traceback (a scheduler job failing during an outage did).
    """
    full = async_url(url)
    kwargs.setdefault("hide_parameters", True)
    if full.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_async_engine(full, **kwargs)
    if full.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if ":memory:" not in full:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Let SQLAlchemy, not the driver, emit BEGIN (see _sqlite_begin).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: AsyncEngine, view: DataView = "live") -> async_sessionmaker[Any]:
    """Sessions that keep loaded values after commit (the caller owns the transaction).

    Args:
        view: which data the sessions see: ``live`` (rehearsals hidden), ``rehearsal`` (only the
            console rehearsal's data; new participants are rehearsal participants) or ``all``.
            See :mod:`storage.rehearsal`.
    """
    return async_sessionmaker(engine, expire_on_commit=False, info={VIEW_KEY: view})
