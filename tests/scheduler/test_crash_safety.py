"""The outbox under crashes and several senders, in one process (issue 9, items 3 and 4).

A "dead" sender here is one that claimed, prepared and marked rows and then never ran again:
exactly what SIGKILL leaves in the database. The real processes are killed in
``test_fan_out_kill.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.events import Address, DeliveryOutcome, Outbound
from bot.scheduling import outbox
from bot.scheduling.outbox import DeliveryReport
from bot.scheduling.plan import SchedulerOptions
from bot.scheduling.send_journal import SendJournal
from storage.db import make_engine, make_sessionmaker
from storage.models import OutboxRow, PlatformAddress
from storage.outbox_repository import OutboxRepo
from tests.scheduler.conftest import OPTIONS, Harness, RecordingAdapter, campaign_settings

AT_10 = [{"flow": "pulse", "at": "2026-03-03 10:00"}]
DUE = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


class GatedAdapter(RecordingAdapter):
    """Holds every send at a gate until the test opens it (a slow platform, a send in flight)."""

    def __init__(self, clock: Any) -> None:
        super().__init__(clock)
        self.gate = asyncio.Event()
        self.waiting = 0

    async def send(self, to: Address, message: Outbound) -> str | None:
        self.waiting += 1
        await self.gate.wait()
        return await super().send(to, message)


async def _statuses(h: Harness) -> list[str]:
    return sorted(r.status for r in await h.outbox())


async def _until(check: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("gave up waiting")


def test_leases_are_seconds_long_by_default() -> None:
    """A dead process's claims pass to another within seconds, not minutes."""
    assert SchedulerOptions().lease <= timedelta(seconds=15)


async def test_each_part_is_marked_in_the_database_before_the_platform_sees_it(
    harness, clock, sessionmaker
):
    h = harness(campaign_settings(AT_10))
    for name in ("ann", "bob", "cat"):
        await h.join(name)
    seen: list[tuple[str, str, bool]] = []
    send = h.adapter.send

    async def checking_send(to: Address, message: Outbound) -> str | None:
        async with sessionmaker() as session:  # a fresh connection sees only what is committed
            row = (
                await session.execute(
                    select(OutboxRow.status, OutboxRow.attempt_at)
                    .join(
                        PlatformAddress, PlatformAddress.participant_id == OutboxRow.participant_id
                    )
                    .where(PlatformAddress.chat_ref == to.chat_ref)
                )
            ).one()
        seen.append((to.chat_ref, row.status, row.attempt_at is not None))
        return await send(to, message)

    h.adapter.send = checking_send  # type: ignore[method-assign]
    clock.set(DUE)
    report = await h.tick()
    assert report.delivery.sent == 3
    assert sorted(seen) == [
        ("ann", "sending", True),
        ("bob", "sending", True),
        ("cat", "sending", True),
    ]
    rows = await h.outbox()
    assert {(r.status, r.attempt_at) for r in rows} == {("sent", None)}


async def _dead_sender_marked_one(sessionmaker: Any, clock: Any) -> Harness:
    """A sender claims and prepares three sends, hands the first to the platform, and dies."""
    dead = Harness(campaign_settings(AT_10), sessionmaker, clock)
    for name in ("ann", "bob", "cat"):
        await dead.join(name)
    clock.set(DUE)
    await dead.scheduler.planner.plan(clock.now())
    sender = dead.scheduler.sender
    _, ready = await sender._claim_and_prepare(DeliveryReport())
    assert len(ready) == 3
    async with SendJournal(sessionmaker, clock, sender.holder, OPTIONS.lease) as journal:
        assert await journal.mark(ready[0].id, 0, 0)
    return dead


async def test_a_send_a_killed_process_may_have_made_is_uncertain_and_never_repeated(
    sessionmaker, clock, db_url
):
    dead = await _dead_sender_marked_one(sessionmaker, clock)
    alive = Harness(dead.settings, sessionmaker, clock)
    if db_url.startswith("sqlite"):
        await alive.scheduler.start()  # the only sender: settles every claim at once
        await alive.scheduler.stop()
    else:
        clock.advance(OPTIONS.lease)  # any other process settles it once the lease lapses
    first = await alive.tick()
    await alive.tick()
    assert first.delivery.uncertain == (0 if db_url.startswith("sqlite") else 1)
    assert sorted(a.chat_ref for a, _, _ in alive.adapter.sent) == ["bob", "cat"]
    assert await _statuses(alive) == ["sent", "sent", "uncertain"]
    async with sessionmaker() as session:
        counts = await OutboxRepo(session).counts("leeds-2026")
    assert sum(n for (_, status), n in counts.items() if status == "uncertain") == 1


async def test_an_uncertain_outcome_from_the_adapter_is_recorded_and_not_repeated(harness, clock):
    """A platform call that timed out after sending (the adapter says "uncertain")."""
    h = harness(campaign_settings(AT_10))
    await h.join("ann")
    calls = []

    async def timing_out(to: Address, message: Outbound) -> str | None:
        calls.append(to)
        await outbox.on_delivery(
            DeliveryOutcome(to, None, "uncertain", 1, None, "timed out", clock.now())
        )
        return None

    h.adapter.send = timing_out  # type: ignore[method-assign]
    clock.set(DUE)
    report = await h.tick()
    clock.advance(timedelta(hours=1))
    await h.tick()
    assert (report.delivery.uncertain, report.delivery.sent, len(calls)) == (1, 0, 1)
    (row,) = await h.outbox()
    assert (row.status, row.uncertain_parts) == ("uncertain", 1)
    assert "timed out" in row.last_error


async def test_a_live_senders_heartbeat_keeps_its_claims_from_other_senders(
    sessionmaker, clock, db_url
):
    if db_url.startswith("sqlite"):
        pytest.skip("several senders need PostgreSQL")
    options = replace(OPTIONS, lease=timedelta(seconds=0.6))  # renewed every 0.2 s
    settings = campaign_settings(AT_10)
    slow = Harness(settings, sessionmaker, clock, options)
    slow.adapter = GatedAdapter(clock)
    slow.scheduler.sender.adapters = {"telegram": slow.adapter}
    for name in ("ann", "bob"):
        await slow.join(name)
    other_engine = make_engine(db_url)
    try:
        other = Harness(settings, make_sessionmaker(other_engine), clock, options)
        clock.set(DUE)
        sending = asyncio.create_task(slow.tick())
        await _until(lambda: slow.adapter.waiting == 2)
        assert slow.scheduler.state().leases_held == 2
        for _ in range(5):  # the slow platform holds the sends for ten leases
            clock.advance(timedelta(seconds=1.2))
            await asyncio.sleep(0.4)
            await other.tick()
        slow.adapter.gate.set()
        await sending
        assert other.adapter.sent == []
        assert sorted(a.chat_ref for a, _, _ in slow.adapter.sent) == ["ann", "bob"]
        assert await _statuses(slow) == ["sent", "sent"]
        assert slow.scheduler.state().leases_held == 0
    finally:
        await other_engine.dispose()


async def test_state_says_running_last_tick_and_leases_held(harness, clock):
    h = harness(campaign_settings(AT_10))
    h.adapter = GatedAdapter(clock)
    h.scheduler.sender.adapters = {"telegram": h.adapter}
    await h.join("ann")
    before = h.scheduler.state()
    assert (before.running, before.last_tick_at, before.leases_held) == (False, None, 0)
    assert h.scheduler.health() == (False, "not running")
    await h.scheduler.start()
    try:
        clock.set(DUE)
        sending = asyncio.create_task(h.tick())
        await _until(lambda: h.adapter.waiting == 1)
        during = h.scheduler.state()
        assert (during.running, during.ticking, during.leases_held) == (True, True, 1)
        assert h.scheduler.health() == (True, "running (a pass is under way)")
        h.adapter.gate.set()
        await sending
        after = h.scheduler.state()
        assert (after.leases_held, after.last_tick_at) == (0, DUE)
        minute = timedelta(minutes=1)
        assert after.assess(DUE + timedelta(seconds=30), stale_after=minute) == (True, "running")
        stale = after.assess(DUE + timedelta(minutes=2), stale_after=minute)
        assert stale == (False, "no scheduler pass has finished recently")
    finally:
        await h.scheduler.stop()
    assert h.scheduler.state().running is False


async def test_after_an_uncertain_part_the_rest_of_the_prompt_is_sent_once(
    sessionmaker, clock, db_url
):
    """A two-message prompt: the first was in flight at the kill, the second never left."""
    dead = Harness(campaign_settings(AT_10), sessionmaker, clock)
    await dead.join("ann")
    clock.set(DUE)
    await dead.scheduler.planner.plan(clock.now())
    sender = dead.scheduler.sender
    _, (item,) = await sender._claim_and_prepare(DeliveryReport())
    payload = dict(item.payload or {})
    payload["messages"] = [{"text": "Hello again."}, *payload["messages"]]
    async with sessionmaker.begin() as session:
        await OutboxRepo(session).set_payload(item.id, payload, clock.now())
    async with SendJournal(sessionmaker, clock, sender.holder, OPTIONS.lease) as journal:
        assert await journal.mark(item.id, 0, 0)  # "Hello again." handed over; then SIGKILL

    alive = Harness(dead.settings, sessionmaker, clock)
    if db_url.startswith("sqlite"):
        await alive.scheduler.start()
        await alive.scheduler.stop()
    else:
        clock.advance(OPTIONS.lease)
    await alive.tick()
    await alive.tick()
    texts = alive.adapter.texts_for("ann")
    assert len(texts) == 1 and "Hello again." not in texts[0]  # only the question, once
    (row,) = await alive.outbox()
    assert (row.status, row.parts_sent, row.uncertain_parts) == ("uncertain", 2, 1)
