"""Several Slack workers on one database: a reply batch is posted by the one worker holding its
claim. A worker starting while another is mid-batch leaves that batch alone, a live worker's
renewals keep its batch, and a dead worker's batch is taken over by the sweep, once.

Time is the manual clock (what the claims are stamped and judged with); real time only paces
the sweeps, and every wait on it is bounded and waits for a counted event, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.adapters.slack import SlackAdapter
from bot.clock import ManualClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.events import Address, DeliveryOutcome, Inbound, PendingReplies
from storage.models import InboundLog
from storage.repositories import InboundLogRepo
from tests.adapters.slack_harness import LA_USER, SECRET, ledger_worker, slack_settings
from tests.doubles.slack_api import SlackApiDouble, event_callback, message_event, signed_headers

BOUND = 15.0
"""Seconds any wait in these tests may take before it fails (none should come close)."""


@dataclass
class GatedSlack(SlackApiDouble):
    """The Slack double, whose next ``hold`` chat.postMessage calls wait until ``gate`` opens
    (received, not yet taken or answered): a worker stuck mid-batch for as long as a test needs."""

    hold: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0
    """Posts waiting at the gate right now."""

    async def _chat_postMessage(self, args: dict[str, Any]) -> Any:  # noqa: N802
        if self.hold:
            self.hold -= 1
            self.holding += 1
            try:
                await asyncio.wait_for(self.gate.wait(), BOUND)
            finally:
                self.holding -= 1
        return await super()._chat_postMessage(args)

    def texts(self, channel: str) -> list[str]:
        return [str(p.get("text")) for p in self.posts(channel)]


class CountingLedger(Dispatcher):
    """The real dispatcher as one worker's ledger, counting its look-ups and renewals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookups = 0
        self.renewals = 0

    async def unreplied(
        self, platform: str, handled_before: datetime, claimed_before: datetime | None = None
    ) -> list[PendingReplies]:
        try:
            return await super().unreplied(platform, handled_before, claimed_before)
        finally:
            self.lookups += 1

    async def still_sending(self, platform: str, msg_ids: Sequence[str]) -> None:
        try:
            await super().still_sending(platform, msg_ids)
        finally:
            self.renewals += 1


@dataclass
class Worker:
    adapter: SlackAdapter
    ledger: CountingLedger
    outcomes: list[DeliveryOutcome]


@pytest.fixture
async def slack() -> AsyncIterator[GatedSlack]:
    async with GatedSlack() as double:
        try:
            yield double
        finally:
            double.gate.set()  # nothing may stay held past the test


async def until(condition: Callable[[], bool], what: str, timeout: float = BOUND) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def start_worker(
    slack: GatedSlack,
    sessionmaker: Any,
    clock: ManualClock,
    *,
    mode: str = "http",
    **options: Any,
) -> Worker:
    """One worker process: its own adapter and ledger (the app's dispatcher), one database."""
    settings: Settings = slack_settings(slack.api_url, mode=mode)
    ledger = CountingLedger(settings, sessionmaker, clock)
    outcomes: list[DeliveryOutcome] = []

    async def record(outcome: DeliveryOutcome) -> None:
        outcomes.append(outcome)

    adapter = ledger_worker(settings, ledger, sessionmaker, clock, on_delivery=record, **options)
    await adapter.start(ledger.handle)
    return Worker(adapter, ledger, outcomes)


async def say_hello(worker: Worker, channel: str, ts: str) -> None:
    """A direct message that Slack delivers to ``worker`` (stored once the 200 comes back)."""
    event = message_event(LA_USER, channel, "hello", ts, channel_type="im")
    raw = json.dumps(event_callback(event))
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{worker.adapter.port}/slack/events"
        async with http.post(url, data=raw, headers=signed_headers(SECRET, raw)) as response:
            assert response.status == 200


async def committed_replies(ledger: Dispatcher, msg_id: str) -> list[str]:
    async with ledger.sessionmaker() as session:
        replies = (
            await session.scalars(
                select(InboundLog.replies).where(InboundLog.platform_msg_id == msg_id)
            )
        ).one()
    return [str(r["text"]) for r in replies]


async def uncertain(ledger: Dispatcher) -> int:
    async with ledger.sessionmaker() as session:
        return await InboundLogRepo(session).uncertain_count("slack")


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_a_worker_starting_while_another_is_mid_batch_leaves_that_batch_alone(
    slack: GatedSlack, sessionmaker: Any, clock: ManualClock, mode: str
) -> None:
    """Worker A is posting a batch (its first post held by Slack). Worker B starts, over HTTP or
    in Socket Mode (an overlapping restart): A's claim was stamped before B started but is fresh,
    so B posts nothing of it; A finishes and every reply is in the channel exactly once. (B used
    to take every batch claimed before its start and post the replies after A's held one.)"""
    channel = "D0LA00101"
    a = await start_worker(slack, sessionmaker, clock)
    b: Worker | None = None
    try:
        slack.hold = 1
        await say_hello(a, channel, "9.1")
        replies = await committed_replies(a.ledger, f"{channel}:9.1")
        assert len(replies) >= 2, "a batch of one cannot be doubled"
        await until(lambda: slack.holding == 1, "A's first post to reach Slack")

        clock.advance(timedelta(seconds=a.adapter.claim_stale / 2))  # fresh, yet before B
        b = await start_worker(slack, sessionmaker, clock, mode=mode)
        await until(lambda: b is not None and b.ledger.lookups >= 1, "B's start-up recovery")
        await b.adapter.drain(BOUND)
        assert b.outcomes == [], "B posted replies of A's batch"
        assert slack.holding == 1 and a.outcomes == [], "A was no longer mid-batch"

        slack.gate.set()
        await until(lambda: len(a.outcomes) == len(replies), "A to finish its batch")
        await a.adapter.drain(BOUND)
        await b.adapter.drain(BOUND)
    finally:
        slack.gate.set()
        for worker in (a, b):
            if worker is not None:
                await worker.adapter.stop()
    assert b.outcomes == []
    assert slack.texts(channel) == replies  # each reply exactly once, in order
    assert [o.status for o in a.outcomes] == ["sent"] * len(replies)
    assert await uncertain(a.ledger) == 0


async def test_a_live_workers_renewals_keep_its_batch_from_a_worker_starting_later(
    slack: GatedSlack, sessionmaker: Any, clock: ManualClock
) -> None:
    """A's post hangs for longer than ``claim_stale``: without renewal its claim would be stale
    and B would take the batch. A renews it while it waits, so B, starting and sweeping after
    that, leaves it alone."""
    channel = "D0LA00102"
    a = await start_worker(slack, sessionmaker, clock, claim_stale=0.6)
    b: Worker | None = None
    try:
        slack.hold = 1
        await say_hello(a, channel, "9.2")
        replies = await committed_replies(a.ledger, f"{channel}:9.2")
        await until(lambda: slack.holding == 1, "A's first post to reach Slack")

        renewed = a.ledger.renewals
        clock.advance(timedelta(seconds=5))  # far past claim_stale since A's last attempt
        # A renewal that began after the jump (one in flight may have read the clock before)
        await until(lambda: a.ledger.renewals >= renewed + 2, "A to renew its claim")
        b = await start_worker(slack, sessionmaker, clock, claim_stale=0.6)
        looked = b.ledger.lookups
        await until(lambda: b is not None and b.ledger.lookups >= looked + 3, "B to sweep")
        await b.adapter.drain(BOUND)
        assert b.outcomes == [] and slack.holding == 1

        slack.gate.set()
        await until(lambda: len(a.outcomes) == len(replies), "A to finish its batch")
        await a.adapter.drain(BOUND)
    finally:
        slack.gate.set()
        for worker in (a, b):
            if worker is not None:
                await worker.adapter.stop()
    assert b.outcomes == []
    assert slack.texts(channel) == replies


async def test_a_dead_workers_claimed_batch_is_posted_once_by_the_sweep_once_stale(
    slack: GatedSlack, sessionmaker: Any, clock: ManualClock
) -> None:
    """A worker committed a message's replies, claimed them and died before posting any: the
    claim is stamped and never renewed. Two live workers sweep; while the claim is fresh (by the
    clock) neither takes it, and once it is ``claim_stale`` old exactly one posts the batch,
    every reply once."""
    channel = "D0LA00103"
    msg_id = f"{channel}:9.3"
    dead = Dispatcher(slack_settings(slack.api_url), sessionmaker, clock)
    committed = await dead.handle(
        Inbound(
            platform="slack",
            user_ref=LA_USER,
            address=Address("slack", channel),
            received_at=clock.now(),
            kind="text",
            text="hello",
            platform_msg_id=msg_id,
            group_hint="la",
        )
    )
    assert await dead.claim_sending("slack", msg_id)  # then the process died
    replies = [r.text for r in committed]
    assert replies

    workers: list[Worker] = []
    try:
        for _ in range(2):
            workers.append(await start_worker(slack, sessionmaker, clock, claim_stale=1.0))
        marks = [w.ledger.lookups for w in workers]
        for worker, mark in zip(workers, marks, strict=True):
            # start-up recovery and two sweeps each, the claim fresh by the clock all along
            await until(lambda w=worker, m=mark: w.ledger.lookups >= m + 2, "sweeps")
        assert slack.texts(channel) == []

        clock.advance(timedelta(seconds=2))  # nobody renewed the claim: it is stale now
        await until(lambda: len(slack.texts(channel)) >= len(replies), "the sweep to post it")
        marks = [w.ledger.lookups for w in workers]
        for worker, mark in zip(workers, marks, strict=True):
            await until(lambda w=worker, m=mark: w.ledger.lookups >= m + 2, "more sweeps")
            await worker.adapter.drain(BOUND)
    finally:
        for worker in workers:
            await worker.adapter.stop()
    assert slack.texts(channel) == replies  # exactly once, in order
    posted_by = [w for w in workers if w.outcomes]
    assert len(posted_by) == 1, "more than one worker posted the batch"
    assert await uncertain(dead) == 0  # nothing was attempted before the death


async def test_replies_whose_claim_could_not_be_made_are_posted_by_the_sweep(
    slack: GatedSlack, sessionmaker: Any, clock: ManualClock
) -> None:
    """The message is stored, then the database refuses the claim on its replies: nothing is
    posted then (the task used to fail, leaving them for the next restart), and the sweep posts
    them once they have waited ``claim_stale`` unclaimed, once."""
    from sqlalchemy.exc import OperationalError

    channel = "D0LA00104"
    worker = await start_worker(slack, sessionmaker, clock, claim_stale=1.0)
    refused: list[str] = []
    real_claim = worker.ledger.claim_sending

    async def away_once(platform: str, msg_id: str) -> bool:
        if not refused:
            refused.append(msg_id)
            raise OperationalError("UPDATE", {}, Exception("the database is away"))
        return await real_claim(platform, msg_id)

    worker.ledger.claim_sending = away_once  # type: ignore[method-assign]
    try:
        await say_hello(worker, channel, "9.4")
        replies = await committed_replies(worker.ledger, f"{channel}:9.4")
        await worker.adapter.drain(BOUND)
        assert refused and slack.texts(channel) == []

        clock.advance(timedelta(seconds=2))
        await until(lambda: len(slack.texts(channel)) >= len(replies), "the sweep to post them")
        mark = worker.ledger.lookups
        await until(lambda: worker.ledger.lookups >= mark + 2, "more sweeps")
        await worker.adapter.drain(BOUND)
    finally:
        await worker.adapter.stop()
    assert slack.texts(channel) == replies
