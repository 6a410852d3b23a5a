"""Real ``listening-bot run`` processes SIGKILLed in the middle of a fan-out (issue 9, items 3, 4).

Participants are enrolled straight into the database (joining 200 people by chat would only
test the dispatcher); a campaign's ``at`` send then fans a prompt out to all of them through the
Telegram Bot API double. Every check is made against the double's own record of what it
received: no chat gets the prompt twice, and a chat that never got it belongs to a send the
outbox counts as ``uncertain`` (handed to Telegram when the process died, so never repeated).

* SQLite, one process: killed at a seeded point, once while the database is held busy (the
  case where results wait to be recorded while sends go on), restarted, and the fan-out ends.
* PostgreSQL, two processes (both in webhook mode, so neither polls and no 409 can arise): one is
  killed mid-fan-out and the survivor finishes within 30 s of the kill.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.flows.state import ConversationState
from bot.scheduling.plan import SchedulerOptions
from storage.db import make_engine, make_sessionmaker
from storage.models import OutboxRow
from storage.repositories import EnrolmentRepo, ParticipantRepo, StateRepo
from tests.conftest import _truncate_postgres, example_data, write_config
from tests.doubles.telegram_api import TelegramApiDouble
from tests.ports import free_port
from tests.processes import BotProcess, run_cli
from tests.scheduler.test_end_to_end import _status_cells

CAMPAIGN = "fan-out"
PULSE = "How positive do you feel"
FIRST_CHAT = 90_000
LEAD = 8.0
"""Seconds from the start to the ``at`` send on SQLite (a late start only sends late)."""
PAIR_LEAD = 20.0
"""The same with two processes: both must be up before it, so that both take part."""
SCHEDULER_ENV = {"LISTENING_SCHEDULER_POLL": "1s"}
FINAL = ("sent", "uncertain")
IN_FLIGHT = SchedulerOptions().concurrency
"""Sends one process hands to the platform at once: the most a kill can leave uncertain."""


@pytest.fixture
async def tg() -> AsyncIterator[TelegramApiDouble]:
    async with TelegramApiDouble() as double:
        yield double


async def _enrol(url: str, n: int) -> None:
    """``n`` consenting parents on Telegram, chats FIRST_CHAT.., joined yesterday."""
    joined = datetime.now(UTC) - timedelta(days=1)
    state = ConversationState(stage="enrolled", campaign_id=CAMPAIGN, group_id="parents")
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            people, enrolments = ParticipantRepo(session), EnrolmentRepo(session)
            states = StateRepo(session)
            for i in range(n):
                chat = str(FIRST_CHAT + i)
                ref = await people.create("telegram", chat, chat, joined)
                await enrolments.enrol(ref.id, CAMPAIGN, "parents", "telegram", None, joined)
                await states.save(ref.id, state.to_json(), joined)
    finally:
        await engine.dispose()


def _config(
    tmp_path: Path, tg: TelegramApiDouble, url: str, at: datetime, name: str, webhook: bool
) -> Path:
    data = example_data()
    data["database_url"] = url
    data["timezone"] = "UTC"
    data["quiet_hours"] = None
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    if webhook:  # updates would come to this process's own port; nobody polls
        data["telegram"].update(
            mode="webhook",
            url=f"https://bot.example.org/{name}",
            secret_token="fan-out-secret",
            listen="127.0.0.1",
            port=free_port(),
        )
    data.pop("slack", None)
    data["campaigns"] = [
        {
            "id": CAMPAIGN,
            "title": "Fan-out under SIGKILL",
            "groups": ["parents"],
            "channels": ["telegram"],
            "consent": "Do you agree to take part?",
            "opens": "2020-01-01 00:00",
            "closes": "2099-12-31 23:00",
            "schedule": [{"flow": "pulse", "at": f"{at:%Y-%m-%d %H:%M:%S}"}],
        }
    ]
    return write_config(tmp_path, data, f"{name}.yaml")


async def _rows(url: str) -> list[OutboxRow]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    finally:
        await engine.dispose()


async def _claimed_by(url: str, pid: int) -> int:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(
                        OutboxRow.status == "sending", OutboxRow.claimed_by.like(f"%:{pid}:%")
                    )
                )
                or 0
            )
    finally:
        await engine.dispose()


async def _until(check: Any, what: str, timeout: float) -> float:
    """Poll ``check`` until it holds; returns the seconds it took."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


def _pulses(tg: TelegramApiDouble) -> Counter[int]:
    return Counter(s.chat_id for s in tg.sent if PULSE in s.text)


def _started(log: Path) -> bool:
    return log.exists() and "scheduler started" in log.read_text(errors="replace")


async def _settled(url: str, n: int) -> bool:
    rows = await _rows(url)
    return len(rows) == n and all(r.status in FINAL for r in rows)


async def _check_once_each(tg: TelegramApiDouble, url: str, n: int) -> tuple[int, int]:
    """Nothing twice; nothing missing but counted uncertain sends. Returns (sent, uncertain)."""
    rows = await _rows(url)
    chats = {r.participant_id: FIRST_CHAT + i for i, r in enumerate(rows)}
    pulses = _pulses(tg)
    assert [chat for chat, copies in pulses.items() if copies > 1] == [], "a prompt went twice"
    assert len(rows) == n and {r.status for r in rows} <= set(FINAL), Counter(
        r.status for r in rows
    )
    uncertain = {chats[r.participant_id] for r in rows if r.status == "uncertain"}
    never = {FIRST_CHAT + i for i in range(n)} - set(pulses)
    assert never <= uncertain, f"{len(never - uncertain)} never sent and not counted uncertain"
    sent_rows = {chats[r.participant_id] for r in rows if r.status == "sent"}
    assert all(pulses[chat] == 1 for chat in sent_rows), "a send recorded as sent never arrived"
    arrived = len(uncertain & set(pulses))
    print(f"\n{len(uncertain)} uncertain, of which {arrived} had reached the double", end="")
    return len(sent_rows), len(uncertain)


class _SqliteBusy:
    """Hold SQLite's write lock: the bot can neither record results nor mark new sends."""

    def __init__(self, url: str) -> None:
        self.path = url.split("///", 1)[1]
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> _SqliteBusy:
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.conn is not None
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.mark.parametrize(("seed", "busy"), [(3, True), (8, False)])
async def test_sqlite_fan_out_killed_and_restarted_sends_each_prompt_at_most_once(
    tmp_path: Path, tg: TelegramApiDouble, sqlite_url: str, seed: int, busy: bool
) -> None:
    n = 150
    rng = random.Random(seed)
    kill_after = rng.randint(10, 90)  # prompts the double has seen when the kill comes
    await _enrol(sqlite_url, n)
    at = (datetime.now(UTC) + timedelta(seconds=LEAD)).replace(microsecond=0)
    config = _config(tmp_path, tg, sqlite_url, at, "solo", webhook=False)
    log = tmp_path / "bot.log"
    bot = BotProcess(config, log, env=SCHEDULER_ENV)
    await bot.start()
    try:

        async def started() -> bool:
            return _started(log)

        await _until(started, "the bot to start", 60)

        async def enough() -> bool:
            return sum(_pulses(tg).values()) >= kill_after

        await _until(enough, f"{kill_after} prompts", LEAD + 60)
        if busy:
            with _SqliteBusy(sqlite_url):
                await asyncio.sleep(1.0)  # sends already prepared may go on meanwhile
                await bot.kill()
        else:
            await bot.kill()
        assert sum(_pulses(tg).values()) < n, "the fan-out ended before the kill"

        await bot.start()

        async def settled() -> bool:
            return await _settled(sqlite_url, n)

        await _until(settled, "every send to be settled after the restart", 60)
        await asyncio.sleep(1.5)  # room for a (wrong) repeat to arrive
    finally:
        assert await bot.terminate() == 0, log.read_text()
    sent, uncertain = await _check_once_each(tg, sqlite_url, n)
    assert uncertain <= IN_FLIGHT, f"{uncertain} uncertain: more than the sends in flight"
    printed = await run_cli("status", "--config", str(config), env={"COLUMNS": "200"})
    assert _status_cells(printed, CAMPAIGN)["all"][9] == str(uncertain), printed  # "uncertain"
    print(
        f"\nsqlite seed {seed} busy={busy}: killed after {kill_after} prompts; "
        f"{sent} sent, {uncertain} uncertain"
    )


async def test_two_processes_on_postgresql_survivor_finishes_a_killed_fan_out_within_30s(
    tmp_path: Path, tg: TelegramApiDouble, postgres_ready: str
) -> None:
    url = postgres_ready
    await _truncate_postgres(url)
    n = 200
    kill_after = random.Random(9).randint(15, 40)
    await _enrol(url, n)
    at = (datetime.now(UTC) + timedelta(seconds=PAIR_LEAD)).replace(microsecond=0)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    bots = [
        BotProcess(_config(tmp_path, tg, url, at, name, webhook=True), log, env=SCHEDULER_ENV)
        for name, log in zip(("a", "b"), logs, strict=True)
    ]
    for bot in bots:
        await bot.start()
    doomed, survivor = bots
    try:

        async def both_started() -> bool:
            return all(_started(log) for log in logs)

        await _until(both_started, "both bots to start", PAIR_LEAD)
        assert datetime.now(UTC) < at, "the processes started too slowly for this timing"
        assert doomed.proc is not None

        async def doomed_is_sending() -> bool:
            held = await _claimed_by(url, doomed.proc.pid)  # type: ignore[union-attr]
            return held > 0 and sum(_pulses(tg).values()) >= kill_after

        await _until(doomed_is_sending, "the first process to hold part of the fan-out", 40)
        await doomed.kill()
        killed = time.monotonic()
        assert sum(_pulses(tg).values()) < n, "the fan-out ended before the kill"

        async def settled() -> bool:
            return await _settled(url, n)

        took = await _until(settled, "the survivor to settle the whole fan-out", 30)
        assert time.monotonic() - killed <= 30
        await asyncio.sleep(1.5)  # room for a (wrong) repeat to arrive
    finally:
        codes = [await bot.terminate() for bot in bots]
    assert codes[1] == 0, logs[1].read_text()
    sent, uncertain = await _check_once_each(tg, url, n)
    assert uncertain <= IN_FLIGHT, f"{uncertain} uncertain: more than the sends in flight"
    print(
        f"\npostgres: killed after {kill_after} prompts; settled {took:.1f}s after the kill; "
        f"{sent} sent, {uncertain} uncertain"
    )
