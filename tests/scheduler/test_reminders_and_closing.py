"""Reminders go only to people who have not finished; a closed campaign sends and stores nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.flows import messages as say
from tests.helpers import stored, texts
from tests.scheduler.conftest import OPTIONS, campaign_settings


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_reminders_only_to_unfinished_and_at_most_max(harness, clock):
    h = harness(
        campaign_settings(
            [{"flow": "pulse", "at": "2026-03-03 10:00"}], reminders={"after": "1d", "max": 2}
        )
    )
    ann = await h.join("ann")
    await h.join("bob")
    clock.set(utc(2026, 3, 3, 10, 0))
    await h.tick()
    await ann.say("5")  # Ann finishes; Bob does not answer
    clock.set(utc(2026, 3, 4, 10, 0))
    await h.tick()
    clock.set(utc(2026, 3, 5, 10, 0))
    await h.tick()
    clock.set(utc(2026, 3, 6, 10, 0))
    await h.tick()
    assert len(h.adapter.texts_for("ann")) == 1
    bob = h.adapter.texts_for("bob")
    # The prompt, then two reminders: each a nudge and the question again.
    assert [t if t == say.REMINDER else t[:12] for t in bob] == [
        "How positive",
        say.REMINDER,
        "How positive",
        say.REMINDER,
        "How positive",
    ]
    rows = [r for r in await h.outbox() if r.kind == "reminder"]
    assert sorted((r.occurrence, r.status) for r in rows) == [
        ("reminder-1", "sent"),
        ("reminder-2", "sent"),
    ]


async def test_reminder_planned_early_is_cancelled_when_they_finish(harness, clock):
    h = harness(
        campaign_settings(
            [{"flow": "pulse", "at": "2026-03-03 10:00"}], reminders={"after": "2h", "max": 1}
        ),
        replace(OPTIONS, horizon=timedelta(hours=3)),
    )
    ann = await h.join("ann")
    clock.set(utc(2026, 3, 3, 10, 0))
    await h.tick()
    clock.set(utc(2026, 3, 3, 11, 0))
    await h.tick()  # the reminder (due 12:00) is planned within the 1h horizon
    assert [r.status for r in await h.outbox() if r.kind == "reminder"] == ["pending"]
    clock.set(utc(2026, 3, 3, 10, 20))  # (back in time: answered within the flow's idle time)
    await ann.say("4")
    clock.set(utc(2026, 3, 3, 12, 0))
    await h.tick()
    assert len(h.adapter.sent) == 1
    (reminder,) = [r for r in await h.outbox() if r.kind == "reminder"]
    assert (reminder.status, reminder.last_error) == ("cancelled", "already finished")


async def test_answers_after_close_get_the_closed_reply_and_are_not_stored(harness, clock):
    h = harness(
        campaign_settings([{"flow": "pulse", "at": "2026-03-03 10:00"}], closes="2026-03-04 17:00")
    )
    ann = await h.join("ann")
    clock.set(utc(2026, 3, 3, 10, 0))
    await h.tick()
    clock.set(utc(2026, 3, 4, 17, 0))
    replies = await ann.say("4")
    assert "closed" in texts(replies).lower()
    assert await stored(h.dispatcher) == []
    await h.tick()
    assert len(h.adapter.sent) == 1


async def test_pending_sends_are_cancelled_when_the_campaign_closes(harness, clock):
    h = harness(
        campaign_settings([{"flow": "pulse", "at": "2026-03-04 16:30"}], closes="2026-03-04 17:00")
    )
    await h.join("ann")
    clock.set(utc(2026, 3, 4, 16, 0))
    await h.tick()  # planned (within the horizon), not yet due
    clock.set(utc(2026, 3, 4, 17, 30))
    await h.tick()
    assert h.adapter.sent == []
    (row,) = await h.outbox()
    assert (row.status, row.last_error) == ("cancelled", "the campaign has closed")
