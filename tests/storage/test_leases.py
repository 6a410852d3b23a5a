"""The polling lease: one holder among processes on PostgreSQL, taken over within seconds."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from storage.db import make_engine
from storage.leases import AdvisoryLease, LocalLease, lease_for


def test_sqlite_gets_a_local_lease(sqlite_url: str) -> None:
    assert isinstance(lease_for(sqlite_url, "telegram-polling:1"), LocalLease)


async def test_one_holder_and_takeover_within_seconds_when_it_dies(postgres_ready: str) -> None:
    first = AdvisoryLease(postgres_ready, "test-lease", retry_every=0.2, check_every=0.3)
    second = AdvisoryLease(postgres_ready, "test-lease", retry_every=0.2, check_every=0.3)
    other = AdvisoryLease(postgres_ready, "another-job", retry_every=0.2)
    await asyncio.wait_for(first.acquire(), 5)
    waiting = asyncio.create_task(second.acquire())
    try:
        await asyncio.wait_for(other.acquire(), 5)  # a different name is independent
        await asyncio.sleep(1.0)
        assert first.held and not waiting.done() and not second.held
        # The holder's process dies: PostgreSQL ends its session (and frees the lock).
        assert first._conn is not None
        pid = (await first._conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        admin = make_engine(postgres_ready, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await admin.dispose()
        died = time.monotonic()
        await asyncio.wait_for(waiting, 5)
        assert second.held and time.monotonic() - died < 2
        for _ in range(50):  # the old holder notices it lost the lease
            if not first.held:
                break
            await asyncio.sleep(0.1)
        assert not first.held
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        for lease in (first, second, other):
            await lease.release()


async def test_release_hands_the_lease_over_at_once(postgres_ready: str) -> None:
    first = AdvisoryLease(postgres_ready, "test-release", retry_every=0.1)
    second = AdvisoryLease(postgres_ready, "test-release", retry_every=0.1)
    try:
        await first.acquire()
        waiting = asyncio.create_task(second.acquire())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await first.release()
        await asyncio.wait_for(waiting, 2)
        assert second.held and not first.held
    finally:
        await first.release()
        await second.release()
