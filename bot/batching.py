"""Group commit: work that arrives together shares one transaction; each caller gets its result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

Outcome = Result | BaseException


class GroupCommitter(Generic[Item, Result]):
    """Queues items and hands them to ``run_batch`` in arrival order, one batch at a time.

    While one batch is being committed, new items wait and form the next batch, so under load
    many messages share one commit (the expensive part on SQLite and PostgreSQL alike), and a
    lone message is handled at once with no added delay.

    ``run_batch`` returns one outcome per item: a result, or the exception for that item alone.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Awaitable[list[Result | BaseException]]],
        *,
        max_batch: int = 64,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Queue ``item`` and wait for its own outcome."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: len(batch)]
            try:
                outcomes = await self._run_batch([item for item, _ in batch])
            except asyncio.CancelledError:
                # Shutting down: nobody may wait forever for a batch that will never run.
                for _, future in batch + self._queue:
                    if not future.done():
                        future.cancel()
                self._queue.clear()
                raise
            except Exception as exc:  # handed to every waiter; the worker itself goes on
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
