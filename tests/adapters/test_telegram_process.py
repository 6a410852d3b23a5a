"""The real ``listening-bot`` process against the Bot API double: invite, join, answer, SIGKILL.

A parent joins from the invite link that ``listening-bot invite`` prints, answers the pulse by
button and challenge 1 by text; the bot process is killed with SIGKILL while it is storing the
pulse answer, restarted, and the answer is stored exactly once. ``listening-bot export`` then
shows the answers as a parent's, on Telegram.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import Response
from tests.conftest import example_data, write_config
from tests.doubles.telegram_api import Fault, TelegramApiDouble
from tests.processes import BotProcess, run_cli

PARENT = 6001


class DatabaseLock:
    """Hold the database so the bot's transaction waits (a deterministic place to kill it)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def __aenter__(self) -> DatabaseLock:
        if self.db_url.startswith("sqlite"):
            path = self.db_url.split("///", 1)[1]
            self._sqlite = sqlite3.connect(path, isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")  # other writers now wait (busy_timeout)
        else:
            import asyncpg

            self._pg = await asyncpg.connect(self.db_url)
            await self._pg.execute("BEGIN")
            await self._pg.execute("LOCK TABLE inbound_log IN ACCESS EXCLUSIVE MODE")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.execute("ROLLBACK")
            await self._pg.close()


def _config(tmp_path: Path, tg: TelegramApiDouble, db_url: str) -> Path:
    data = example_data()
    data["database_url"] = db_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    data.pop("slack", None)
    data["quiet_hours"] = None
    # challenge 1 follows the pulse at once, so one sitting covers both flows
    for entry in data["campaigns"][0]["schedule"]:
        if entry["flow"] == "challenge-1":
            entry["after"] = "0m"
    return write_config(tmp_path, data)


async def _texts_after(tg: TelegramApiDouble, before: int, expect: str, timeout: float) -> None:
    try:
        await tg.wait_for(lambda: any(expect in t for t in tg.texts(PARENT)[before:]), timeout)
    except AssertionError:
        raise AssertionError(f"no {expect!r}; got {tg.texts(PARENT)[before:]}") from None


async def test_parent_joins_answers_survives_sigkill_and_exports(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any
) -> None:
    config = _config(tmp_path, tg, db_url)
    printed = await run_cli(
        "invite", "--campaign", "leeds-2026", "--group", "parents", "--config", str(config)
    )
    link = re.search(r"https://t\.me/(\w+)\?start=(\S+)", printed)
    assert link and link.group(1) == tg.username
    code = link.group(2)

    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        tg.text(PARENT, f"/start {code}")
        await _texts_after(tg, 0, "Do you agree", 30)
        consent = [s for s in tg.sent if s.reply_markup][-1]
        tg.fail("sendMessage", Fault(429, retry_after=1))
        before = len(tg.texts(PARENT))
        tg.press(PARENT, consent, "v:yes")
        await _texts_after(tg, before, "How positive", 15)
        scale = [s for s in tg.sent if s.reply_markup][-1]

        # The pulse answer arrives while the database is busy; kill the bot before it stores it.
        async with DatabaseLock(db_url):
            press = tg.press(PARENT, scale, "v:4")
            await tg.wait_for(lambda: tg.deliveries[press] == 1, 15)
            await asyncio.sleep(0.7)  # the bot is now waiting on the database
            await bot.kill()
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Response)) == 0
        assert tg.confirmed < press  # never acknowledged

        before = len(tg.texts(PARENT))
        await bot.start()
        await _texts_after(tg, before, "Tell it as it is", 30)
        assert tg.deliveries[press] == 2
        before = len(tg.texts(PARENT))
        tg.text(PARENT, "Local groups know the families, so people trust them.")
        await _texts_after(tg, before, "example from your own experience", 15)
        before = len(tg.texts(PARENT))
        tg.text(PARENT, "/done")
        await _texts_after(tg, before, "really helpful", 15)
    finally:
        code_on_exit = await bot.terminate()
    assert code_on_exit == 0, (tmp_path / "bot.log").read_text()

    exported = await run_cli("export", "--config", str(config))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["flow"], r["step"], r["answer"]) for r in rows] == [
        ("pulse", "positive", "4"),
        ("challenge-1", "opening", "Local groups know the families, so people trust them."),
    ]
    assert {(r["group"], r["channel"]) for r in rows} == {("parents", "telegram")}

    sends = Counter((s.chat_id, s.text) for s in tg.sent)
    assert [key for key, n in sends.items() if n > 1] == []  # no duplicate message
    assert [c.status for c in tg.calls].count(429) == 1
    assert tg.early_after_flood() == []  # nothing sooner than retry_after


async def test_replies_cut_off_by_a_crash_after_the_commit_go_out_once_on_restart(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any
) -> None:
    """An answer is committed but its reply (the next question) waits behind a send Telegram
    is holding; SIGKILL. On restart the next question goes out exactly once; the held message,
    which may or may not have arrived, is not repeated."""
    config = _config(tmp_path, tg, db_url)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        tg.text(PARENT, "/start")
        await _texts_after(tg, 0, "Do you agree", 30)
        before = len(tg.texts(PARENT))
        tg.text(PARENT, "yes")
        await _texts_after(tg, before, "describes you", 15)
        before = len(tg.texts(PARENT))
        tg.text(PARENT, "1")
        await _texts_after(tg, before, "How positive", 15)

        # Telegram holds the reply to /help; the answer's reply queues up behind it.
        tg.fail("sendMessage", Fault(500, delay=60))
        calls = len(tg.calls_to("sendMessage"))
        tg.text(PARENT, "/help")
        await tg.wait_for(lambda: len(tg.calls_to("sendMessage")) > calls, 15)
        answer, _ = tg.text(PARENT, "4")

        async def committed() -> bool:
            async with sessionmaker() as session:
                return bool(await session.scalar(select(func.count()).select_from(Response)))

        for _ in range(150):
            if await committed():
                break
            await asyncio.sleep(0.1)
        assert await committed(), "the answer was not stored"
        await bot.kill()  # the answer is stored; its reply never went out
        assert not any("Tell it as it is" in t for t in tg.texts(PARENT))

        tg.faults["sendMessage"].clear()
        before = len(tg.texts(PARENT))
        await bot.start()
        await _texts_after(tg, before, "Tell it as it is", 30)
        await tg.wait_for(lambda: tg.confirmed >= answer, 15)  # the update was acknowledged
        await asyncio.sleep(1.5)  # room for a (wrong) second copy to arrive
    finally:
        assert await bot.terminate() == 0, (tmp_path / "bot.log").read_text()

    sends = Counter((s.chat_id, s.text) for s in tg.sent)
    assert [key for key, n in sends.items() if n > 1] == []  # nothing sent twice
    assert sum("Tell it as it is" in s.text for s in tg.sent) == 1
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Response)) == 1


async def _join(tg: TelegramApiDouble) -> None:
    tg.text(PARENT, "/start")
    await _texts_after(tg, 0, "Do you agree", 30)
    before = len(tg.texts(PARENT))
    tg.text(PARENT, "yes")
    await _texts_after(tg, before, "describes you", 15)
    before = len(tg.texts(PARENT))
    tg.text(PARENT, "1")
    await _texts_after(tg, before, "How positive", 15)


async def test_a_reply_is_not_lost_when_killed_during_another_chats_429(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any
) -> None:
    """Another parent's chat gets 429 with retry_after 60; this parent's answer is stored and
    the bot is killed soon after. The next question reaches them exactly once: at once (the
    429 is that other chat's alone), or after the restart if it had not been tried yet."""
    config = _config(tmp_path, tg, db_url)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    other = PARENT + 1
    try:
        await _join(tg)
        tg.fail("sendMessage", Fault.flood(60, chat=other))
        tg.text(other, "/start")
        await tg.wait_for(lambda: any(c.status == 429 for c in tg.calls), 15)
        tg.text(PARENT, "4")

        async def committed() -> bool:
            async with sessionmaker() as session:
                return bool(await session.scalar(select(func.count()).select_from(Response)))

        for _ in range(150):
            if await committed():
                break
            await asyncio.sleep(0.1)
        assert await committed(), "the answer was not stored"
        await asyncio.sleep(1.0)
        await bot.kill()

        tg.chat_flood_until.clear()  # the flood is over by the time the bot is back
        await bot.start()
        await _texts_after(tg, 0, "Tell it as it is", 30)
        await asyncio.sleep(1.5)  # room for a (wrong) second copy to arrive
    finally:
        assert await bot.terminate() == 0, (tmp_path / "bot.log").read_text()
    sends = Counter((s.chat_id, s.text) for s in tg.sent)
    assert [key for key, n in sends.items() if n > 1] == []
    assert sum("Tell it as it is" in s.text for s in tg.sent) == 1


async def test_an_unreadable_update_is_skipped_and_sigterm_exits_cleanly(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any
) -> None:
    config = _config(tmp_path, tg, db_url)
    log = tmp_path / "bot.log"
    bot = BotProcess(config, log)
    await bot.start()
    try:
        poison = tg.poison(6002, "entity")
        await _join(tg)  # the bot is not deaf
        await tg.wait_for(lambda: tg.confirmed >= poison, 15)
    finally:
        code = await bot.terminate()
    text = log.read_text()
    assert code == 0, text
    assert f"skipped an update Telegram sent that could not be read (update {poison})" in text
    assert "Secret Person" not in text and "6002" not in text
    assert "CRITICAL" not in text and "Traceback" not in text
    out = await run_cli("status", "--config", str(config))
    assert "Telegram: 1 unreadable update(s) in quarantine" in out


async def test_two_processes_on_postgresql_poll_one_at_a_time(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str
) -> None:
    """Two ``run`` processes share a PostgreSQL database: only one polls (no 409 Conflict),
    and when it is killed the other takes over within seconds."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a database only on PostgreSQL")
    config = _config(tmp_path, tg, db_url)
    first = BotProcess(config, tmp_path / "first.log")
    second = BotProcess(config, tmp_path / "second.log")
    await first.start()
    await second.start()
    try:
        await _join(tg)
        await asyncio.sleep(3)  # several long polls: a second poller would have collided
        assert tg.conflicts == 0
        for victim, other in ((first, second), (second, first)):
            await victim.kill()
            before = len(tg.texts(PARENT))
            tg.text(PARENT, "/help")
            await _texts_after(tg, before, "stop taking part (no more", 15)  # by the survivor
            await victim.start()
            await asyncio.sleep(3)
            assert tg.conflicts == 0
            assert other.proc is not None and other.proc.returncode is None
    finally:
        codes = [await first.terminate(), await second.terminate()]
    assert codes == [0, 0]
    assert tg.conflicts == 0
