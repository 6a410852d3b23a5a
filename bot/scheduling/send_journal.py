"""The outbox's write-ahead journal: "about to send" marks and results, committed in groups.

A send may only be handed to the platform once the mark saying so is committed, and its result
should be committed soon after, so that after a crash the rows that may have been delivered are
exactly the marked, unrecorded ones (see :mod:`bot.scheduling.outbox`). One commit per send would
cap a fan-out at the disk's fsync rate, so one task commits everything that queued up while its
previous commit ran: results first, then marks, in one transaction. The wait for a mark is one
commit, shared by every send that asked meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from storage.outbox_repository import OutboxRepo

log = logging.getLogger(__name__)

Record = Callable[[OutboxRepo], Awaitable[None]]
"""How to write one send's result, given the journal's transaction."""

RETRY_PAUSE = 0.5
"""Seconds between tries when the database refuses a commit (results are kept and retried)."""
CLOSE_TRIES = 5
"""Commits tried for the last results when the journal closes before giving up on them."""


class MarkRefused(Exception):
    """The mark could not be committed; the send must not be attempted."""


class SendJournal:
    """Group commits for one outbox pass; ``async with SendJournal(...) as journal:``.

    Args:
        holder: the sender's name; a mark only succeeds on rows it still holds.
        lease: marks also renew the row's lease by this much.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        holder: str,
        lease: timedelta,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.holder = holder
        self.lease = lease
        self._marks: list[tuple[tuple[int, int, int], asyncio.Future[bool]]] = []
        self._unmarks: list[tuple[int, asyncio.Future[bool]]] = []
        self._records: list[Record] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.commits = 0

    async def __aenter__(self) -> SendJournal:
        self._task = asyncio.create_task(self._run(), name="outbox-journal")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def mark(self, outbox_id: int, parts_sent: int, uncertain_parts: int) -> bool:
        """Commit "part ``parts_sent`` of this row is about to be sent"; wait for it.

        Returns:
            False when the row is no longer this sender's (its claim lapsed and another took it).

        Raises:
            MarkRefused: the database did not take the mark; do not send.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._marks.append(((outbox_id, parts_sent, uncertain_parts), future))
        self._idle.clear()
        self._wake.set()
        return await future

    async def unmark(self, outbox_id: int) -> None:
        """Commit "the part marked last did not go after all" (the platform refused that try);
        wait for it.

        Raises:
            MarkRefused: the database did not take it (the mark stands: after a crash that part
                counts as uncertain, never as sent twice).
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._unmarks.append((outbox_id, future))
        self._idle.clear()
        self._wake.set()
        await future

    def record(self, record: Record) -> None:
        """Queue a result; it is committed with the next group."""
        self._records.append(record)
        self._idle.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is queued or being committed.

        Other writers of this process (preparing the next batch) wait for this first: on SQLite
        a waiting connection sleeps in the busy handler while a writer in a loop takes the lock
        again at once, so without it marks could wait behind a whole batch being prepared.
        """
        await self._idle.wait()

    async def _run(self) -> None:
        failures = 0
        while True:
            if not (self._marks or self._records or self._unmarks):
                self._idle.set()
                if self._closing:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            marks, self._marks = self._marks, []
            unmarks, self._unmarks = self._unmarks, []
            records, self._records = self._records, []
            try:
                owned = await self._commit(
                    records, [key for key, _ in marks], [key for key, _ in unmarks]
                )
            except Exception as exc:  # noqa: BLE001 - the database is unavailable: keep results
                failures += 1
                log.warning("outbox: recording sends failed (%s); retrying", type(exc).__name__)
                for _, future in [*marks, *unmarks]:
                    if not future.done():
                        future.set_exception(MarkRefused(str(exc)))
                if self._closing and failures >= CLOSE_TRIES:
                    log.error(
                        "outbox: %d send result(s) could not be recorded; those sends will "
                        "count as uncertain",
                        len(records),
                    )
                    return
                self._records[:0] = records
                await asyncio.sleep(RETRY_PAUSE)
                continue
            failures = 0
            for key, future in marks:
                if not future.done():
                    future.set_result(key[0] in owned)
            for _, future in unmarks:
                if not future.done():
                    future.set_result(True)

    async def _commit(
        self, records: list[Record], marks: list[tuple[int, int, int]], unmarks: list[int]
    ) -> set[int]:
        async with self.sessionmaker.begin() as session:
            repo = OutboxRepo(session)
            for record in records:
                await record(repo)
            owned: set[int] = set()
            now = self.clock.now()
            if unmarks:
                await repo.unmark_attempts(self.holder, unmarks, now)
            if marks:
                owned = await repo.mark_attempts(self.holder, marks, now, now + self.lease)
        self.commits += 1
        return owned
