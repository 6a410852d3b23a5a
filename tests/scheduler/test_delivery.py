"""The outbox: retries with backoff, giving up with a reason, recovery after a restart."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduling.scheduler import CampaignScheduler, SchedulerLockError
from tests.scheduler.conftest import OPTIONS, Harness, campaign_settings

AT_10 = [{"flow": "pulse", "at": "2026-03-03 10:00"}]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_send_that_fails_twice_then_succeeds_goes_out_once(harness, clock):
    h = harness(campaign_settings(AT_10))
    await h.join("ann")
    h.adapter.fail = 2
    clock.set(utc(2026, 3, 3, 10, 0))
    first = await h.tick()
    assert first.delivery.retried == 1
    (row,) = await h.outbox()
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        utc(2026, 3, 3, 10, 0, 30),
    )
    assert "telegram is down" in row.last_error
    clock.advance(timedelta(seconds=29))
    await h.tick()
    assert h.adapter.calls == 1  # backoff respected
    clock.advance(timedelta(seconds=1))
    await h.tick()  # second failure: next wait doubles to 60 s
    (row,) = await h.outbox()
    assert (row.attempts, row.next_attempt_at) == (2, utc(2026, 3, 3, 10, 1, 30))
    clock.set(utc(2026, 3, 3, 10, 1, 30))
    await h.tick()
    (row,) = await h.outbox()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(h.adapter.sent) == 1 and h.adapter.calls == 3


async def test_gives_up_after_max_attempts_with_the_reason(harness, clock):
    h = harness(campaign_settings(AT_10), replace(OPTIONS, max_attempts=3))
    await h.join("ann")
    h.adapter.fail = 99
    clock.set(utc(2026, 3, 3, 10, 0))
    for _ in range(3):
        await h.tick()
        clock.advance(timedelta(minutes=5))
    (row,) = await h.outbox()
    assert row.status == "failed"
    assert row.last_error == "gave up after 3 attempt(s): AdapterError: telegram is down"
    await h.tick()
    assert h.adapter.calls == 3


async def test_a_permanent_refusal_is_not_retried(harness, clock):
    from bot.errors import AdapterError

    class Blocked(AdapterError):
        permanent = True

    h = harness(campaign_settings(AT_10))
    await h.join("ann")
    h.adapter.fail, h.adapter.fail_with = 1, Blocked("Forbidden: bot was blocked by the user")
    clock.set(utc(2026, 3, 3, 10, 0))
    await h.tick()
    (row,) = await h.outbox()
    assert row.status == "failed" and "blocked" in row.last_error


async def test_restart_within_the_grace_period_sends_the_missed_prompt(harness, clock):
    h = harness(campaign_settings(AT_10))
    await h.join("ann")
    clock.set(utc(2026, 3, 3, 15, 59))  # down since before 10:00; the grace period is 6 h
    await h.tick()
    assert len(h.adapter.sent) == 1


async def test_restart_beyond_the_grace_period_records_the_prompt_as_missed(harness, clock):
    h = harness(campaign_settings(AT_10))
    await h.join("ann")
    clock.set(utc(2026, 3, 3, 16, 1))
    await h.tick()
    assert h.adapter.sent == []
    (row,) = await h.outbox()
    assert row.status == "missed" and "grace period" in row.last_error


async def test_a_planned_send_missed_while_down_is_recorded_as_missed(harness, clock):
    h = harness(campaign_settings(AT_10))
    await h.join("ann")
    clock.set(utc(2026, 3, 3, 9, 30))
    await h.tick()  # planned as pending, then the bot stops
    clock.set(utc(2026, 3, 4, 9, 0))
    await h.tick()
    (row,) = await h.outbox()
    assert row.status == "missed" and h.adapter.sent == []


async def test_a_send_claimed_by_a_killed_process_is_sent_once_after_restart(
    sessionmaker, clock, db_url
):
    settings = campaign_settings(AT_10)
    dead = Harness(settings, sessionmaker, clock)
    await dead.join("ann")
    clock.set(utc(2026, 3, 3, 10, 0))
    await dead.scheduler.planner.plan(clock.now())
    from bot.scheduling.outbox import DeliveryReport

    _, claimed = await dead.scheduler.sender._claim_and_prepare(DeliveryReport())
    assert len(claimed) == 1  # prepared and leased, then the process is SIGKILLed
    clock.advance(timedelta(minutes=1))
    alive = Harness(settings, sessionmaker, clock)
    if db_url.startswith("sqlite"):
        await alive.scheduler.start()  # the only sender on SQLite: takes the work back at once
        await alive.scheduler.stop()
    else:
        clock.advance(OPTIONS.lease)  # on PostgreSQL it waits for the lease to end
    await alive.tick()
    await alive.tick()
    assert len(alive.adapter.sent) == 1 and dead.adapter.sent == []
    (row,) = await alive.outbox()
    assert row.status == "sent"


async def test_sqlite_refuses_a_second_scheduler(sessionmaker, clock, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the single-process rule is SQLite's")
    settings = campaign_settings(AT_10)
    first, second = Harness(settings, sessionmaker, clock), Harness(settings, sessionmaker, clock)
    await first.scheduler.start()
    try:
        with pytest.raises(SchedulerLockError, match="already running for this SQLite database"):
            await second.scheduler.start()
    finally:
        await first.scheduler.stop()
    await second.scheduler.start()  # free again once the first one stopped
    await second.scheduler.stop()


async def test_two_schedulers_on_postgresql_send_each_prompt_once(sessionmaker, clock, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("concurrent senders need PostgreSQL")
    from storage.db import make_engine, make_sessionmaker

    settings = campaign_settings(AT_10)
    options = replace(OPTIONS, batch=7, concurrency=4)
    a = Harness(settings, sessionmaker, clock, options)
    other_engine = make_engine(db_url)
    try:
        b = Harness(settings, make_sessionmaker(other_engine), clock, options)
        for n in range(40):
            await a.join(f"p{n}")
        clock.set(utc(2026, 3, 3, 10, 0))
        for _ in range(3):
            await asyncio.gather(a.tick(), b.tick())
        sent = [addr.chat_ref for addr, _, _ in a.adapter.sent + b.adapter.sent]
        assert sorted(sent) == sorted(f"p{n}" for n in range(40))
        assert a.adapter.sent and b.adapter.sent  # both did part of the work
        assert {r.status for r in await a.outbox()} == {"sent"}
    finally:
        await other_engine.dispose()


async def test_jobs_have_stable_ids_and_are_rebuilt_without_duplicates(harness, clock):
    h = harness(
        campaign_settings(
            [
                {"flow": "pulse", "after": "0m"},
                {"flow": "challenge-1", "cron": "0 10 * * 3"},
                {"flow": "challenge-2", "at": "2099-01-01 10:00"},
            ],
            closes=None,
        )
    )
    scheduler: CampaignScheduler = h.scheduler
    await scheduler.start()
    try:
        ids = scheduler.rebuild_jobs()
        again = scheduler.rebuild_jobs()
        assert (
            ids
            == again
            == [
                "pump",
                "entry:leeds-2026:challenge-1@0 10 * * 3",
                "entry:leeds-2026:challenge-2@2099-01-01 10:00",
            ]
        )
        jobs = {job.id: job for job in scheduler.aps.get_jobs()}
        assert set(ids) <= set(jobs)
        assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
        assert jobs["pump"].misfire_grace_time == 6 * 3600
    finally:
        await scheduler.stop()
