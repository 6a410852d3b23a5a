"""The real ``listening-bot run`` process with monitoring on, against the Bot API double.

A parent joins and answers; ``/readyz`` says ready; ``/metrics`` agrees with what the double
itself recorded (updates it delivered, prompts it received) and with the database; with
``LISTENING_LOG_FORMAT=json`` every log line is one JSON object naming no person.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from storage.db import make_engine, make_sessionmaker
from storage.models import OutboxRow, Response
from tests.adapters.telegram_harness import Parent
from tests.conftest import example_data, write_config
from tests.doubles.telegram_api import Fault, TelegramApiDouble
from tests.monitoring.test_endpoints import samples
from tests.ports import free_port
from tests.processes import BotProcess

PARENT_ID = 7_300_911
PARENT_TEXT = "Our Tuesday stay-and-play with Marzena was the only place we felt welcome"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramApiDouble]:
    async with TelegramApiDouble() as double:
        yield double


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def _wait_ready(base: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        try:
            status, body = await _get(f"{base}/readyz")
            if status == 200:
                return body
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz never said ready: {body}")


async def test_metrics_match_the_doubles_records_and_logs_are_json(
    tmp_path: Path, tg: TelegramApiDouble, sqlite_url: str
) -> None:
    port = free_port()
    data = example_data()
    data["database_url"] = sqlite_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    data["monitoring"] = {"port": port}
    data.pop("slack", None)
    data["quiet_hours"] = None
    for entry in data["campaigns"][0]["schedule"]:
        if entry["flow"] == "challenge-1":
            entry["after"] = "3s"  # goes out through the outbox, a few seconds after joining
    config = write_config(tmp_path, data)
    log = tmp_path / "bot.log"
    bot = BotProcess(
        config, log, env={"LISTENING_LOG_FORMAT": "json", "LISTENING_SCHEDULER_POLL": "1s"}
    )
    await bot.start()
    base = f"http://127.0.0.1:{port}"
    try:
        ready = json.loads(await _wait_ready(base))
        assert set(ready["components"]) == {"database", "adapter:telegram", "scheduler"}

        parent = Parent(tg, PARENT_ID)
        tg.fail("sendMessage", Fault(429, retry_after=1))  # one flood-control answer
        await parent.say("/start", "Do you agree", timeout=30)
        await parent.say("yes", "describes you")
        await parent.say("1", "How positive")
        await parent.say("4", "Thank")
        await tg.wait_sent(PARENT_ID, "Tell it as it is", timeout=20)
        await parent.say(PARENT_TEXT, "example from your own experience")
        await tg.wait_for(lambda: any("Tell it as it is" in t for t in tg.texts()), 5)

        # The double has the prompt; the outbox records "sent" once Telegram's answer is read
        # and journalled, a moment later (longer on a loaded machine): wait for it, bounded.
        engine = make_engine(sqlite_url)
        deadline = time.monotonic() + 20
        while True:
            async with make_sessionmaker(engine)() as session:
                answers = await session.scalar(select(func.count()).select_from(Response))
                sent_rows = await session.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "sent")
                )
            if sent_rows or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        await engine.dispose()
        status, body = await _get(f"{base}/metrics")
    finally:
        assert await bot.terminate() == 0, log.read_text()

    assert status == 200
    got = samples(body)
    # every update the double handed out reached the dispatcher exactly once
    assert got[("listening_messages_in_total", (("platform", "telegram"),))] == len(tg.updates)
    assert got[("listening_answers_stored", ())] == answers == 2
    # the scheduled prompt (challenge 1, three seconds after joining; the pulse is a reply):
    # what the metrics say was sent is what the outbox recorded and what the double received
    prompts_received = sum("Tell it as it is" in s.text for s in tg.sent)
    assert got[("listening_outbox_sends", (("status", "sent"),))] == sent_rows == 1
    assert prompts_received == 1
    assert got[("listening_uncertain_sends", ())] == 0
    floods = [c.status for c in tg.calls].count(429)
    assert floods == 1
    assert got[("listening_rate_limited_total", (("platform", "telegram"),))] == floods

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines, "the bot logged nothing at --verbose"
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
    for line in lines:
        assert str(PARENT_ID) not in line and "Marzena" not in line and "stay-and-play" not in line
