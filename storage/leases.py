"""Leader election among processes sharing one database: who alone may do one job.

Guarantee (PostgreSQL, :class:`AdvisoryLease`): at most one process holds a named lease at a
time, as PostgreSQL sees it: the lease is a session-level advisory lock held on a connection of
its own. When the holder dies, its connection closes and PostgreSQL frees the lock at once
(the kernel closes the socket; if the holder's machine vanishes instead, the server's TCP
keepalives, set to about 11 s here, end the session). Waiting processes try every
``retry_every`` seconds, so one of them holds the lease within about a second of the death. The
holder checks its connection every ``check_every`` seconds (each check may take ``timeout``);
when a check fails it reports the lease lost (``held`` turns False) and must stop the job
at once, which it does within about 6 s, before the server would free the lock for anyone
else. A holder cut off from the database therefore stops before a successor starts.

On SQLite only one process can run the bot, so :class:`LocalLease` is always held.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from storage.db import async_url, make_engine

log = logging.getLogger(__name__)
_KEEPALIVES = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 2",
    "SET tcp_keepalives_count = 3",
)


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class LocalLease:
    """The lease of a database only one process uses (SQLite): always held once acquired."""

    def __init__(self) -> None:
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        self._held = True

    async def release(self) -> None:
        self._held = False


class AdvisoryLease:
    """A named lease among processes on one PostgreSQL database (see the module docstring).

    Args:
        url: the database URL (``postgresql://`` or ``postgresql+asyncpg://``).
        name: what the lease is for, e.g. ``"telegram-polling:<bot id>"``.
        retry_every: seconds between tries while another process holds it.
        check_every: seconds between checks that the holder's connection is alive.
        timeout: seconds one check may take before the lease counts as lost.
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        retry_every: float = 1.0,
        check_every: float = 2.0,
        timeout: float = 4.0,
    ) -> None:
        self.url = url
        self.name = name
        self.key = lease_key(name)
        self.retry_every = retry_every
        self.check_every = check_every
        self.timeout = timeout
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._watch: asyncio.Task[None] | None = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        """Wait until this process holds the lease (trying every ``retry_every`` seconds)."""
        if self._held:
            return
        if self._engine is None:
            self._engine = make_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        waited = False
        while True:
            try:
                if await self._try():
                    break
            except Exception as exc:  # the database is away: keep trying, like a follower
                log.warning("lease %s: database unavailable (%s)", self.name, type(exc).__name__)
                await self._drop()
            if not waited:
                log.info("lease %s: held by another process; waiting", self.name)
                waited = True
            await asyncio.sleep(self.retry_every)
        self._held = True
        self._watch = asyncio.create_task(self._keep(), name=f"lease-{self.name}")
        log.info("lease %s: acquired", self.name)

    async def _try(self) -> bool:
        assert self._engine is not None
        if self._conn is None:
            self._conn = await asyncio.wait_for(self._engine.connect(), self.timeout)
            for statement in _KEEPALIVES:
                await self._conn.execute(text(statement))
        got = await asyncio.wait_for(
            self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}),
            self.timeout,
        )
        return bool(got.scalar())

    async def _keep(self) -> None:
        """Check the connection; on failure the lease is lost (and the connection dropped)."""
        while self._held:
            await asyncio.sleep(self.check_every)
            try:
                assert self._conn is not None
                await asyncio.wait_for(self._conn.execute(text("SELECT 1")), self.timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._held = False
                log.warning("lease %s: lost (%s)", self.name, type(exc).__name__)
                await self._drop()
                return

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.invalidate(), self.timeout)

    async def release(self) -> None:
        """Give the lease up and close its connection."""
        self._held = False
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}),
                    self.timeout,
                )
                await self._conn.close()
            self._conn = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def lease_for(url: str, name: str) -> AdvisoryLease | LocalLease:
    """An advisory lease on PostgreSQL, a local one elsewhere (SQLite runs one process)."""
    if async_url(url).startswith("postgresql"):
        return AdvisoryLease(url, name)
    return LocalLease()
