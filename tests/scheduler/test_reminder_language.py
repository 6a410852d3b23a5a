"""A reminder is said once, in the person's language (the scheduler's own nudge included)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import Settings
from tests.multilingual import multilingual_data
from tests.scheduler.conftest import Harness


async def test_a_polish_parent_is_reminded_once_in_polish(sessionmaker, clock):
    data = multilingual_data()
    data["telegram"], data["slack"] = {}, {}
    data["campaigns"][0].update(
        channels=["telegram"],
        schedule=[{"flow": "pulse", "at": "2026-03-03 10:00"}],
        opens="2026-03-01 09:00",
        closes="2026-12-31 17:00",
        reminders={"after": "1d", "max": 1},
    )
    h = Harness(Settings.model_validate(data), sessionmaker, clock)
    ola = h.person("ola")
    for text in ("/start", "pl", "tak", "1"):  # asked which language: Polish
        await ola.say(text)
    clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    await h.tick()
    clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    await h.tick()
    said = [t[:24] for t in h.adapter.texts_for("ola")]
    assert said == [
        "Jak pozytywnie oceniasz ",
        "Delikatne przypomnienie:",
        "Jak pozytywnie oceniasz ",
    ]
