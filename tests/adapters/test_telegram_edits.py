"""An edited Telegram answer goes through the question's checks, seen through the Bot API double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.dispatcher import Dispatcher
from storage.models import PlatformAddress, Response
from tests.adapters.telegram_harness import Harness, Parent, make_adapter, telegram_settings


@pytest.fixture
async def h(tg, tmp_path: Path, db_url: str, sessionmaker, clock) -> AsyncIterator[Harness]:
    settings: Settings = telegram_settings(tmp_path, tg, db_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    outcomes: list[Any] = []
    adapter = make_adapter(settings, clock, outcomes)
    await adapter.start(dispatcher.handle)
    try:
        yield Harness(tg, adapter, dispatcher, outcomes)
    finally:
        await adapter.stop()


async def test_a_scale_answer_edited_to_999_is_refused_with_the_hint_and_4_stays(h: Harness):
    parent = Parent(h.tg, 5077)
    code = await h.invite()
    await parent.say(f"/start {code}", "Do you agree")
    await parent.press("v:yes", "How positive")
    before = len(h.tg.texts(parent.id))
    _, message_id = h.tg.text(parent.id, "4")
    await parent._await(before, "Thank", 10)
    before = len(h.tg.texts(parent.id))
    h.tg.edit(parent.id, message_id, "999")
    replies = await parent._await(before, "Please pick a number from 1 to 5.", 10)
    assert "kept your earlier answer" in replies[-1]
    async with h.dispatcher.sessionmaker() as session:
        answers = list(await session.scalars(select(Response.answer)))
        names = (await session.execute(select(PlatformAddress.first_name))).scalars().all()
    assert answers == ["4"]
    assert names == [f"Parent{parent.id}"]  # the platform's first name, kept for masking
