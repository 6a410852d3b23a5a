"""Fixtures for the scheduler: a small campaign on Telegram, a recording adapter, a scheduler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.errors import AdapterError
from bot.events import Address, Outbound
from bot.scheduling.plan import SchedulerOptions
from bot.scheduling.scheduler import CampaignScheduler
from tests.conftest import example_data
from tests.helpers import Person


class RecordingAdapter:
    """A fake Telegram: records every send; ``fail`` makes the next N sends raise."""

    name = "telegram"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[Address, Outbound, Any]] = []
        self.fail = 0
        self.fail_with: Exception = AdapterError("telegram is down")
        self.calls = 0

    async def start(self, sink: Any) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, to: Address, message: Outbound) -> str | None:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise self.fail_with
        self.sent.append((to, message, self.clock.now()))
        return str(len(self.sent))

    def texts_for(self, chat_ref: str) -> list[str]:
        return [m.text for a, m, _ in self.sent if a.chat_ref == chat_ref]


def campaign_settings(
    schedule: list[dict[str, Any]],
    *,
    reminders: dict[str, Any] | None = None,
    quiet_hours: str | None = "21:00-08:00",
    opens: str | None = "2026-03-01 09:00",
    closes: str | None = "2026-12-31 17:00",
    timezone: str = "Europe/London",
    expected_problems: tuple[str, ...] = (),
) -> Settings:
    """The example flows with one Telegram campaign whose schedule the test chooses.

    ``expected_problems`` lists paths `check` refuses that a test still feeds the scheduler on
    purpose (defence in depth); any other problem fails the test.
    """
    data = example_data()
    data["timezone"] = timezone
    data["quiet_hours"] = quiet_hours
    data["telegram"] = {}
    data["slack"] = {}
    campaign = data["campaigns"][0]
    campaign.update(channels=["telegram"], schedule=schedule, opens=opens, closes=closes)
    campaign.pop("reminders", None)
    if reminders:
        campaign["reminders"] = reminders
    if opens is None:
        campaign.pop("opens")
    if closes is None:
        campaign.pop("closes")
    from bot.config import semantic_problems

    settings = Settings.model_validate(data)
    problems = [p for p in semantic_problems(settings) if p[0] not in expected_problems]
    assert not problems
    assert {p for p, _ in semantic_problems(settings)} == set(expected_problems)
    return settings


OPTIONS = SchedulerOptions(
    grace=timedelta(hours=6),
    horizon=timedelta(hours=1),
    max_attempts=5,
    backoff=timedelta(seconds=30),
    batch=50,
)


class Harness:
    """A dispatcher, a recording adapter and a scheduler sharing one clock and database."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: Any,
        clock: ManualClock,
        options: SchedulerOptions = OPTIONS,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.dispatcher = Dispatcher(settings, sessionmaker, clock)
        self.adapter = RecordingAdapter(clock)
        self.scheduler = CampaignScheduler(
            settings,
            sessionmaker,
            self.dispatcher,
            {"telegram": self.adapter},
            clock,
            options,
        )

    def person(self, user_ref: str) -> Person:
        return Person(self.dispatcher, platform="telegram", user_ref=user_ref)

    async def join(self, user_ref: str, group: str = "1") -> Person:
        person = self.person(user_ref)
        await person.join(group)
        return person

    async def tick(self) -> Any:
        return await self.scheduler.tick()

    async def outbox(self) -> list[Any]:
        from storage.outbox_repository import OutboxRepo

        async with self.dispatcher.sessionmaker() as session:
            return await OutboxRepo(session).all()


@pytest.fixture
def harness(sessionmaker: Any, clock: ManualClock) -> Callable[..., Harness]:
    def make(settings: Settings, options: SchedulerOptions = OPTIONS) -> Harness:
        return Harness(settings, sessionmaker, clock, options)

    return make
