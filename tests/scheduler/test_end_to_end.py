"""The scheduler end to end: the real ``listening-bot run`` process against the Bot API double.

One run covers issue 5's "Done means":

* campaign ``e2e-now`` has one ``at`` send a few seconds after start; two parents enrol through
  the double (/start, pick the campaign, consent yes, group) and each gets the pulse exactly once;
* the process is SIGKILLed after those sends are recorded, restarted, and sends nothing again
  (we wait until the restarted scheduler's pump has run twice, as its log shows);
* campaign ``e2e-quiet`` is inside its quiet hours now: a send due one second after a third
  parent joins is held until the quiet hours end (a minute boundary of local wall-clock time
  at least ``QUIET_MIN`` seconds away, computed here) and goes out then;
* ``listening-bot status`` afterwards shows enrolled, prompted, answered, finished and the
  outbox's sent count for each campaign.

Quiet hours have minute resolution, so this file waits for the next suitable minute boundary:
from ``QUIET_MIN`` up to ``QUIET_MIN + 60`` seconds (the other checks run meanwhile).
The campaign timezone is Asia/Kolkata: no daylight saving to trip over at any time of year,
and a half-hour offset from UTC, so the quiet hours really are read in local wall-clock time.
It runs on SQLite; set ``LISTENING_TEST_E2E_POSTGRES=1`` (with ``LISTENING_TEST_POSTGRES_URL``)
to run it on PostgreSQL as well.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.models import OutboxRow
from tests.adapters.telegram_harness import Parent
from tests.conftest import _truncate_postgres, example_data, write_config
from tests.doubles.telegram_api import TelegramApiDouble
from tests.processes import BotProcess, run_cli

TZ = ZoneInfo("Asia/Kolkata")
NOW_CAMPAIGN, QUIET_CAMPAIGN = "e2e-now", "e2e-quiet"
ANN, BOB, CAT = 7001, 7002, 7003  # Ann and Bob join e2e-now; Cat joins e2e-quiet
PULSE = "How positive do you feel"  # the pulse flow's question
CHALLENGE_2 = "Why do you think voluntary"  # the challenge-2 flow's opening
AT_LEAD = 10.0
"""Seconds from the test's start to the ``at`` send: the bot starts and both parents enrol first."""
QUIET_MIN = 12.0
"""The quiet hours end at least this long after the start, so Cat has joined well before."""
SCHEDULER_ENV = {"LISTENING_SCHEDULER_POLL": "1s"}  # the pump checks the outbox every second


@pytest.fixture(
    params=["sqlite", "postgres"] if os.environ.get("LISTENING_TEST_E2E_POSTGRES") else ["sqlite"]
)
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """SQLite; PostgreSQL too with ``LISTENING_TEST_E2E_POSTGRES=1`` (this file is slow, so
    running it twice in every suite run is opt-in)."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_ready")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
async def tg() -> AsyncIterator[TelegramApiDouble]:
    async with TelegramApiDouble() as double:
        yield double


def _local(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, TZ)


def _quiet_hours(start: float) -> tuple[str, float]:
    """Quiet hours covering now and ending at the first local minute boundary >= QUIET_MIN away.

    Returns the ``"HH:MM-HH:MM"`` span and the wall-clock (epoch) time it ends. The span starts
    two minutes before the current minute, and may cross midnight ("23:58-00:01"): the scheduler
    reads a start later than the end as a span over midnight.
    """
    earliest = _local(start + QUIET_MIN)
    end = earliest.replace(second=0, microsecond=0)
    if end < earliest:
        end += timedelta(minutes=1)
    begin = _local(start).replace(second=0, microsecond=0) - timedelta(minutes=2)
    return f"{begin:%H:%M}-{end:%H:%M}", end.timestamp()


def _config(tmp_path: Path, tg: TelegramApiDouble, db_url: str, at: datetime, quiet: str) -> Path:
    data = example_data()
    data["database_url"] = db_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    data.pop("slack", None)
    data["timezone"] = "Asia/Kolkata"
    data["quiet_hours"] = None
    common = {
        "groups": ["parents", "vcs"],
        "channels": ["telegram"],
        "consent": "Your answers are kept without your name. Do you agree to take part?",
        "opens": "2020-01-01 00:00",
        "closes": "2099-12-31 23:00",
    }
    data["campaigns"] = [
        {
            "id": NOW_CAMPAIGN,
            "title": "Opening pulse",
            **common,
            "schedule": [{"flow": "pulse", "at": f"{at:%Y-%m-%d %H:%M:%S}"}],
        },
        {
            "id": QUIET_CAMPAIGN,
            "title": "Held for the night",
            **common,
            "quiet_hours": quiet,
            "schedule": [{"flow": "challenge-2", "after": "1s"}],
        },
    ]
    return write_config(tmp_path, data)


async def _enrol(person: Parent, campaign: str) -> float:
    """/start, pick the campaign, consent, pick "parents"; returns when the bot confirmed."""
    await person.say("/start", "Which exercise", timeout=30)  # the first waits for start-up
    await person.press(f"v:{campaign}", "Do you agree")
    await person.press("v:yes", "Which of these best describes you")
    await person.press("v:parents", "You're taking part as")
    return time.time()


def _sent_count(tg: TelegramApiDouble, chat_id: int, text: str) -> int:
    return sum(text in t for t in tg.texts(chat_id))


async def _outbox(sessionmaker: Any, campaign: str) -> list[OutboxRow]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(OutboxRow).where(OutboxRow.campaign_id == campaign))
        return list(rows)


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def _all_sent(sessionmaker: Any, campaign: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        rows = await _outbox(sessionmaker, campaign)
        return len(rows) == count and all(r.status == "sent" for r in rows)

    return check


def _pump_runs(log: Path, offset: int) -> int:
    """How many scheduler pump passes completed since ``offset`` in the bot's log."""
    text = log.read_bytes()[offset:].decode(errors="replace")
    return sum(
        "plan and send due prompts" in line and "executed successfully" in line
        for line in text.splitlines()
    )


def _status_cells(output: str, campaign: str) -> dict[str, list[str]]:
    """One campaign's ``status`` as group -> enrolled, prompted, answered, finished, opted out
    (the People table), then pending, sent, failed, missed, uncertain (the Sends table)."""
    section = output.split(f"{campaign}:", 1)[1]
    tables: list[dict[str, list[str]]] = [{}]
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) > 1 and cells[0] not in ("group", ""):
            tables[-1].setdefault(cells[0], cells[1:])
        if cells and cells[0] == "all":
            if len(tables) == 2:
                break
            tables.append({})
    people, sends = tables
    return {group: people[group][:5] + sends[group][:5] for group in people}


async def test_scheduled_sends_go_once_survive_sigkill_and_wait_for_quiet_hours(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any
) -> None:
    start = time.time()
    at = _local(start + AT_LEAD).replace(microsecond=0)
    quiet, quiet_end = _quiet_hours(start)
    config = _config(tmp_path, tg, db_url, at, quiet)
    log = tmp_path / "bot.log"
    wall = time.time() - time.monotonic()  # the double stamps calls with time.monotonic()
    ann, bob, cat = Parent(tg, ANN), Parent(tg, BOB), Parent(tg, CAT)

    bot = BotProcess(config, log, env=SCHEDULER_ENV)
    await bot.start()
    try:
        # -- 1. two parents enrol before the `at` send; each gets it exactly once ---------------
        cat_joined, *now_joined = await asyncio.gather(
            _enrol(cat, QUIET_CAMPAIGN), _enrol(ann, NOW_CAMPAIGN), _enrol(bob, NOW_CAMPAIGN)
        )
        assert max(now_joined) < at.timestamp() - 1, "enrolment took too long for this timing"
        assert cat_joined + 1 < quiet_end - 1, "Cat joined too late to be due in quiet hours"
        assert _sent_count(tg, ANN, PULSE) == _sent_count(tg, BOB, PULSE) == 0  # not before `at`

        async def cat_planned() -> bool:
            return bool(await _outbox(sessionmaker, QUIET_CAMPAIGN))

        await _until(cat_planned, "Cat's send to be planned")
        (row,) = await _outbox(sessionmaker, QUIET_CAMPAIGN)
        assert row.nominal_at.timestamp() < quiet_end  # due one second after joining ...
        assert row.due_at.timestamp() == quiet_end  # ... so it waits for the quiet hours' end

        pulses = [await tg.wait_sent(who, PULSE, timeout=AT_LEAD + 15) for who in (ANN, BOB)]
        assert min(p.at + wall for p in pulses) >= at.timestamp() - 0.5  # on time, not early
        await ann.press("v:4", "that's all for")  # Ann answers and finishes; Bob does not
        # "after the sends": the outbox has recorded them (a kill before that commit would have
        # left them "uncertain", never repeated; see bot/scheduling/outbox.py)
        await _until(_all_sent(sessionmaker, NOW_CAMPAIGN, 2), "both sends recorded as sent")
        assert _sent_count(tg, ANN, PULSE) == _sent_count(tg, BOB, PULSE) == 1

        # -- 2. SIGKILL and restart: the restarted scheduler catches up and sends nothing again --
        await bot.kill()
        before = len(tg.sent)
        offset = log.stat().st_size
        await bot.start()

        async def pumped_twice() -> bool:
            return _pump_runs(log, offset) >= 2

        await _until(pumped_twice, "two pump passes of the restarted scheduler", 30)
        assert _sent_count(tg, ANN, PULSE) == _sent_count(tg, BOB, PULSE) == 1
        repeats = [s.text for s in tg.sent[before:] if s.chat_id != CAT]  # Cat's may be due
        assert repeats == [], "the restarted bot sent something again"

        # -- 3. Cat's send was due in quiet hours: held until they end, then sent once ----------
        held = await tg.wait_sent(CAT, CHALLENGE_2, timeout=quiet_end - time.time() + 15)
        arrived = held.at + wall
        assert arrived >= quiet_end - 0.5, f"sent {quiet_end - arrived:.1f}s before quiet hours end"
        assert arrived <= quiet_end + 10, f"held {arrived - quiet_end:.1f}s past quiet hours"
        await _until(_all_sent(sessionmaker, QUIET_CAMPAIGN, 1), "Cat's send recorded as sent")
        assert _sent_count(tg, CAT, CHALLENGE_2) == 1
        assert _sent_count(tg, CAT, PULSE) == 0  # campaigns do not leak into each other
    finally:
        exit_code = await bot.terminate()
    assert exit_code == 0, log.read_text()

    # -- 4. status: participation and the outbox per campaign and group -------------------------
    printed = await run_cli("status", "--config", str(config), env={"COLUMNS": "200"})
    # enrolled, prompted, answered, finished, opted out, pending, sent, failed, missed, uncertain
    now_rows = _status_cells(printed, NOW_CAMPAIGN)
    assert now_rows["parents"] == ["2", "2", "1", "1", "0", "0", "2", "0", "0", "0"], printed
    assert now_rows["vcs"] == ["0"] * 10, printed
    assert now_rows["all"] == ["2", "2", "1", "1", "0", "0", "2", "0", "0", "0"], printed
    quiet_rows = _status_cells(printed, QUIET_CAMPAIGN)
    assert quiet_rows["parents"] == ["1", "1", "0", "0", "0", "0", "1", "0", "0", "0"], printed
    assert quiet_rows["all"] == ["1", "1", "0", "0", "0", "0", "1", "0", "0", "0"], printed
