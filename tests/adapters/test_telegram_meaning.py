"""What people mean, on Telegram, where the platform matters: a multi-choice answered with the
toggle keyboard cannot combine "None of these" with other options, and a yes/no question's hint
is its buttons (the text does not repeat it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.dispatcher import Dispatcher
from tests.adapters.telegram_harness import CAMPAIGN, Harness, Parent, make_adapter
from tests.conftest import example_data, write_config
from tests.helpers import stored

SERVICES = ["Stay and play", "Health visits", "Advice", "None of these"]


@pytest.fixture
async def h(tmp_path: Path, tg, db_url, sessionmaker, clock) -> AsyncIterator[Harness]:
    data = example_data()
    data["database_url"] = db_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    data.pop("slack", None)
    data["flows"].append(
        {
            "id": "services",
            "kind": "structured",
            "steps": [
                {"id": "used", "type": "multi", "ask": "Which have you used?", "options": SERVICES},
                {"id": "again", "type": "yesno", "ask": "Would you go again?"},
            ],
        }
    )
    data["campaigns"][0]["schedule"] = [{"flow": "services", "after": "0m"}]
    settings = load_settings(write_config(tmp_path, data), environ={})
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    outcomes: list[Any] = []
    adapter = make_adapter(settings, clock, outcomes)
    await adapter.start(dispatcher.handle)
    try:
        yield Harness(tg, adapter, dispatcher, outcomes)
    finally:
        await adapter.stop()


async def test_none_of_these_with_another_option_is_asked_again_on_telegram(h: Harness) -> None:
    parent = Parent(h.tg, 6001)
    code = await h.invite()
    await parent.say(f"/start {code}", "Do you agree")
    await parent.press("v:yes", "Which have you used?")
    keyboard = parent.keyboard()
    h.tg.press(parent.id, keyboard, "t:0")
    await h.tg.wait_for(lambda: keyboard.reply_markup["inline_keyboard"][0][0]["text"][0] == "☑")
    h.tg.press(parent.id, keyboard, "t:3")
    await h.tg.wait_for(lambda: keyboard.reply_markup["inline_keyboard"][3][0]["text"][0] == "☑")
    await parent.press("d", "can't be combined", on=keyboard)
    assert await stored(h.dispatcher) == []
    again = parent.keyboard()  # the question comes back with a fresh keyboard
    assert again is not keyboard and "Which have you used?" in again.text
    h.tg.press(parent.id, again, "t:3")
    await h.tg.wait_for(lambda: again.reply_markup["inline_keyboard"][3][0]["text"][0] == "☑")
    await parent.press("d", "Would you go again?", on=again)
    yesno = parent.keyboard()
    assert "yes" not in yesno.text.lower()  # the Yes/No buttons are the hint
    assert [b["text"] for b in yesno.reply_markup["inline_keyboard"][0]] == ["Yes", "No"]
    rows = await stored(h.dispatcher)
    assert [(r.campaign, r.step, r.answer) for r in rows] == [(CAMPAIGN, "used", "None of these")]
