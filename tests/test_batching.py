"""Group commit on its own: order, per-item outcomes, and no waiter left hanging."""

from __future__ import annotations

import asyncio

import pytest

from bot.batching import GroupCommitter


async def test_items_arriving_together_form_one_batch_in_order():
    batches: list[list[int]] = []

    async def run(items):
        batches.append(list(items))
        await asyncio.sleep(0)
        return [item * 10 for item in items]

    group: GroupCommitter[int, int] = GroupCommitter(run, max_batch=3)
    results = await asyncio.gather(*(group.submit(i) for i in range(7)))
    assert results == [0, 10, 20, 30, 40, 50, 60]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_one_items_error_reaches_only_its_caller_and_a_failed_batch_reaches_all():
    async def run(items):
        if 99 in items:
            raise RuntimeError("database gone")
        return [ValueError("bad") if item == 2 else item for item in items]

    group: GroupCommitter[int, int] = GroupCommitter(run)
    results = await asyncio.gather(*(group.submit(i) for i in (1, 2, 3)), return_exceptions=True)
    assert results[0] == 1 and isinstance(results[1], ValueError) and results[2] == 3
    with pytest.raises(RuntimeError, match="database gone"):
        await group.submit(99)
    assert await group.submit(4) == 4  # the worker recovered


async def test_cancelling_the_worker_releases_every_waiter():
    started = asyncio.Event()

    async def run(items):
        started.set()
        await asyncio.sleep(60)
        return list(items)

    group: GroupCommitter[int, int] = GroupCommitter(run)
    first = asyncio.ensure_future(group.submit(1))
    await started.wait()
    second = asyncio.ensure_future(group.submit(2))
    await asyncio.sleep(0)
    assert group._worker is not None
    group._worker.cancel()
    done = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in done)
