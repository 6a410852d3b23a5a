"""Quiet hours hold sends until they end, on the local wall clock, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.scheduling.plan import cron_trigger
from tests.scheduler.conftest import campaign_settings

LONDON = ZoneInfo("Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_send_due_at_night_waits_for_the_morning(harness, clock):
    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-03-03 22:00"}]))
    await h.join("ann")
    clock.set(utc(2026, 3, 3, 22, 0))
    await h.tick()
    clock.set(utc(2026, 3, 4, 7, 59))
    await h.tick()
    assert h.adapter.sent == []
    clock.set(utc(2026, 3, 4, 8, 0))
    await h.tick()
    assert [t for _, _, t in h.adapter.sent] == [utc(2026, 3, 4, 8, 0)]


async def test_a_retry_or_recovery_that_lands_at_night_is_held(harness, clock):
    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-03-03 20:30"}]))
    await h.join("ann")
    clock.set(utc(2026, 3, 3, 20, 30))
    h.adapter.fail = 1
    await h.tick()  # fails; the retry in 30s would be 20:30:30 - still allowed
    clock.set(utc(2026, 3, 3, 21, 30))  # the bot was busy/down: now it is quiet hours
    report = await h.tick()
    assert report.delivery.held == 1 and h.adapter.sent == []
    clock.set(utc(2026, 3, 4, 8, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1


async def test_spring_forward_last_sunday_of_march(harness, clock):
    # 29 March 2026: clocks go from 01:00 GMT to 02:00 BST. 08:00 BST is 07:00 UTC.
    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-03-28 23:00"}]))
    clock.set(utc(2026, 3, 28, 12, 0))
    await h.join("ann")
    clock.set(utc(2026, 3, 28, 23, 0))
    await h.tick()
    (row,) = await h.outbox()
    assert row.due_at == utc(2026, 3, 29, 7, 0)
    assert row.due_at.astimezone(LONDON).hour == 8
    clock.set(utc(2026, 3, 29, 6, 59))
    await h.tick()
    assert h.adapter.sent == []
    clock.set(utc(2026, 3, 29, 7, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1


async def test_fall_back_last_sunday_of_october(harness, clock):
    # 25 October 2026: clocks go from 02:00 BST back to 01:00 GMT. 08:00 GMT is 08:00 UTC.
    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-10-24 22:30"}]))
    clock.set(utc(2026, 10, 24, 12, 0))
    await h.join("ann")
    clock.set(utc(2026, 10, 24, 21, 30))  # 22:30 BST
    await h.tick()
    (row,) = await h.outbox()
    assert row.due_at == utc(2026, 10, 25, 8, 0)
    clock.set(utc(2026, 10, 25, 7, 0))  # 07:00 GMT: would be 08:00 in summer time, still quiet
    await h.tick()
    assert h.adapter.sent == []
    clock.set(utc(2026, 10, 25, 8, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1


def test_daily_cron_keeps_local_time_across_both_changes():
    trigger = cron_trigger("0 9 * * *", LONDON)

    def fires(start: datetime, n: int) -> list[datetime]:
        out, cursor = [], start
        for _ in range(n):
            cursor = trigger.get_next_fire_time(None, cursor)
            out.append(cursor.astimezone(UTC))
            cursor += timedelta(seconds=1)
        return out

    assert fires(utc(2026, 3, 28, 0), 2) == [utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)]
    assert fires(utc(2026, 10, 24, 0), 2) == [utc(2026, 10, 24, 8), utc(2026, 10, 25, 9)]


async def test_participant_timezone_is_used_for_quiet_hours_when_known(harness, clock, db_url):
    from sqlalchemy import update

    from storage.models import PlatformAddress

    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-03-03 09:00"}]))
    await h.join("ann")
    async with h.dispatcher.sessionmaker.begin() as session:
        await session.execute(update(PlatformAddress).values(timezone="America/New_York"))
    clock.set(utc(2026, 3, 3, 9, 0))  # 04:00 in New York: quiet there until 08:00 EST
    await h.tick()
    assert h.adapter.sent == []
    clock.set(utc(2026, 3, 3, 13, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1
