"""Absolute, cron and relative entries go out on time, once, to the right people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.scheduling.plan import cron_trigger
from tests.scheduler.conftest import campaign_settings


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_at_entry_goes_once_to_everyone_enrolled_before_it(harness, clock):
    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-03-03 10:00"}]))
    await h.join("ann")
    await h.join("bob")
    await h.tick()
    assert h.adapter.sent == []  # not due yet
    clock.set(utc(2026, 3, 3, 10, 0))
    report = await h.tick()
    assert report.delivery.sent == 2
    assert sorted(a.chat_ref for a, _, _ in h.adapter.sent) == ["ann", "bob"]
    assert all("How positive" in m.text for _, m, _ in h.adapter.sent)
    clock.advance(timedelta(minutes=1))
    await h.join("cat")  # joined after the broadcast: it is not sent to her retroactively
    clock.advance(timedelta(minutes=5))
    await h.tick()
    await h.tick()
    assert len(h.adapter.sent) == 2
    rows = await h.outbox()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]
    assert all(r.payload is None for r in rows)  # nothing kept after sending


async def test_after_entry_is_relative_to_each_join_and_after_zero_is_not_resent(harness, clock):
    h = harness(
        campaign_settings(
            [{"flow": "pulse", "after": "0m"}, {"flow": "challenge-1", "after": "2d"}]
        )
    )
    ann = await h.join("ann")  # the engine starts the `after: 0` pulse at once
    await ann.say("4")
    clock.advance(timedelta(hours=3))
    bob = await h.join("bob")
    await bob.say("2")
    await h.tick()
    assert h.adapter.sent == []  # the pulse went out with the join reply; never again
    clock.set(utc(2026, 3, 4, 10, 0))
    await h.tick()
    assert h.adapter.texts_for("ann") and "If children's centres" in h.adapter.texts_for("ann")[0]
    assert h.adapter.texts_for("bob") == []
    clock.set(utc(2026, 3, 4, 13, 0))
    await h.tick()
    assert len(h.adapter.texts_for("bob")) == 1
    await h.tick()
    assert len(h.adapter.sent) == 2
    assert {r.entry_key for r in await h.outbox()} == {"challenge-1@2d"}


async def test_scheduled_offer_of_a_flow_already_started_sends_nothing(harness, clock):
    h = harness(campaign_settings([{"flow": "pulse", "after": "0m"}]))
    await h.join("ann")
    address, replies = await h.dispatcher.offer(1, "leeds-2026", "pulse@0m", "pulse")
    assert replies == []
    await h.person("ann").say("5")
    address, replies = await h.dispatcher.offer(1, "leeds-2026", "pulse@0m", "pulse")
    assert replies == []


async def test_cron_entry_repeats_and_each_occurrence_is_its_own_flow(harness, clock):
    # Wednesdays 10:00 in crontab numbering (3 = Wednesday).
    h = harness(campaign_settings([{"flow": "pulse", "cron": "0 10 * * 3"}]))
    ann = await h.join("ann")
    clock.set(utc(2026, 3, 4, 10, 0))
    await h.tick()
    await ann.say("3")
    clock.set(utc(2026, 3, 11, 10, 0))
    await h.tick()
    await h.tick()
    sent = h.adapter.sent
    assert [t.astimezone(UTC) for _, _, t in sent] == [utc(2026, 3, 4, 10), utc(2026, 3, 11, 10)]
    assert len({r.entry_key for r in await h.outbox()}) == 2


def test_cron_weekday_numbers_follow_crontab_not_apscheduler():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/London")
    monday = utc(2026, 3, 2, 12)
    sunday = cron_trigger("0 10 * * 0", tz).get_next_fire_time(None, monday)
    assert sunday.date().isoformat() == "2026-03-08"  # a Sunday, as crontab means
    weekdays = cron_trigger("0 10 * * 1-5", tz)
    fire, seen = monday, []
    for _ in range(5):
        fire = weekdays.get_next_fire_time(None, fire + timedelta(seconds=1))
        seen.append(fire.strftime("%a"))
    assert seen == ["Tue", "Wed", "Thu", "Fri", "Mon"]
    assert cron_trigger("0 10 * * 7", tz).get_next_fire_time(None, monday).strftime("%a") == "Sun"


async def test_nothing_before_opens_or_after_closes(harness, clock):
    h = harness(
        campaign_settings(
            [{"flow": "pulse", "after": "1h"}, {"flow": "challenge-1", "at": "2026-03-06 10:00"}],
            opens="2026-03-02 09:00",
            closes="2026-03-05 17:00",
            # `check` refuses a send after closes; the scheduler must still never make it.
            expected_problems=("campaigns[0].schedule[1].at",),
        )
    )
    await h.join("ann")
    clock.set(utc(2026, 3, 2, 11, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1
    clock.set(utc(2026, 3, 6, 10, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1  # the 6 March entry falls after closing
    assert [r.status for r in await h.outbox()] == ["sent"]


async def test_opted_out_people_get_nothing(harness, clock):
    h = harness(campaign_settings([{"flow": "pulse", "at": "2026-03-03 10:00"}]))
    ann = await h.join("ann")
    await h.join("bob")
    clock.set(utc(2026, 3, 2, 23, 0))
    await h.tick()  # planned already (within the horizon? no: 11h ahead) - nothing yet
    await ann.say("/stop")
    await ann.say("yes")
    clock.set(utc(2026, 3, 3, 10, 0))
    await h.tick()
    assert [a.chat_ref for a, _, _ in h.adapter.sent] == ["bob"]
