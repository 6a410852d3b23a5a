"""The Telegram adapter under platform faults, against the Bot API double.

Each test injects one fault through the double (an update python-telegram-bot cannot read, a
429 for one chat, a send that Telegram accepts but never answers, a dropped connection) and
checks what the double delivered, what the database holds and what the logs say.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.telegram import RateLimiter, RetryPolicy, TelegramAdapter
from bot.adapters.telegram._delivery import Caller, CallFailed, CallUncertain
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.errors import AdapterError
from bot.events import Address, DeliveryOutcome, Outbound
from bot.quarantine import QuarantineStore
from storage.models import InboundLog, QuarantinedUpdate
from tests.adapters.telegram_harness import (
    Harness,
    Parent,
    fast_limiter,
    telegram_settings,
    webhook_settings,
)
from tests.doubles.telegram_api import Fault, TelegramApiDouble
from tests.helpers import AwayAtFirst
from tests.ports import free_port

UNREADABLE = "skipped an update Telegram sent that could not be read"


def adapter_for(
    settings: Settings,
    clock: Any,
    outcomes: list[DeliveryOutcome],
    dispatcher: Dispatcher | None = None,
    **kwargs: Any,
) -> TelegramAdapter:
    """The adapter as the app builds it (ledger, quarantine), with short test timings."""

    async def record(outcome: DeliveryOutcome) -> None:
        outcomes.append(outcome)

    options: dict[str, Any] = {
        "on_delivery": record,
        "limiter": fast_limiter(),
        "retry": RetryPolicy(backoff=0.02, max_backoff=0.1),
        "poll_timeout": 1,
        "drain_timeout": 3,
        "request_timeout": 1.0,
    }
    if dispatcher is not None:
        options["ledger"] = dispatcher
        options["quarantine"] = QuarantineStore(dispatcher.sessionmaker, clock)
    options.update(kwargs)
    return TelegramAdapter(settings.telegram, clock, **options)


@pytest.fixture
async def h(tg, tsettings, sessionmaker, clock) -> AsyncIterator[Harness]:
    dispatcher = Dispatcher(tsettings, sessionmaker, clock)
    outcomes: list[Any] = []
    adapter = adapter_for(tsettings, clock, outcomes, dispatcher)
    await adapter.start(dispatcher.handle)
    try:
        yield Harness(tg, adapter, dispatcher, outcomes)
    finally:
        await adapter.stop()
    assert tg.unknown == [], "the adapter called methods the double does not know"


async def join(h: Harness, parent: Parent) -> None:
    code = await h.invite()
    await parent.say(f"/start {code}", "Do you agree")
    await parent.press("v:yes", "How positive")


async def count(h: Harness, model: Any) -> int:
    async with h.dispatcher.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def log_text(caplog: pytest.LogCaptureFixture, at_least: int = logging.INFO) -> str:
    """Every record at ``at_least`` or above, formatted, with any traceback."""
    formatter = logging.Formatter()
    lines = []
    for record in caplog.records:
        if record.levelno >= at_least:
            lines.append(record.getMessage())
            if record.exc_info:
                lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines)


# -- 1. poison input -------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["entity", "from", "date"])
async def test_an_unreadable_update_is_quarantined_and_skipped_not_deafening(
    h: Harness, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="telegram")
    first, second = Parent(h.tg, 5101), Parent(h.tg, 5102)
    code = await h.invite()
    poison = h.tg.poison(5103, how)
    replies = await first.say(f"/start {code}", "Do you agree")  # same batch or the next one
    assert replies
    await h.tg.wait_for(lambda: h.tg.confirmed >= poison)  # the offset moved past it
    await second.say("/start", "Do you agree")  # and the bot still hears everyone
    async with h.dispatcher.sessionmaker() as session:
        kept = (await session.scalars(select(QuarantinedUpdate))).all()
    assert [(q.platform, q.update_id, q.chat_ref, q.user_ref) for q in kept] == [
        ("telegram", poison, "5103", "5103")  # a private chat: its id is the sender's
    ]
    assert kept[0].raw["message"]["text"] == "My name is Secret Person5103"
    text = log_text(caplog)
    assert f"{UNREADABLE} (update {poison})" in text
    assert "Secret Person" not in text and "5103" not in text
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]


async def test_health_says_whether_updates_are_received(h: Harness) -> None:
    assert h.adapter.health() == (True, "polling")
    assert h.adapter._poll_task is not None
    h.adapter._poll_task.cancel()  # as when the token is revoked: the loop ends
    await asyncio.gather(h.adapter._poll_task, return_exceptions=True)
    assert h.adapter.health() == (False, "not receiving: polling stopped")


async def test_a_redelivered_unreadable_update_is_kept_once(
    h: Harness, tsettings: Settings, clock: Any
) -> None:
    poison = h.tg.poison(5104)
    await h.tg.wait_for(lambda: h.tg.confirmed >= poison)
    await h.adapter.stop()
    h.tg.confirmed = poison - 1  # say the acknowledgement never reached Telegram
    outcomes: list[Any] = []
    again = adapter_for(tsettings, clock, outcomes, h.dispatcher)
    await again.start(h.dispatcher.handle)
    try:
        await h.tg.wait_for(lambda: h.tg.deliveries[poison] == 2)
        await h.tg.wait_for(lambda: h.tg.confirmed >= poison)
    finally:
        await again.stop()
    assert await count(h, QuarantinedUpdate) == 1


async def test_an_unreadable_update_waits_while_it_cannot_be_kept(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """With the database away it is neither lost nor skipped: it comes again, then is kept."""
    caplog.set_level(logging.INFO)
    store = h.adapter.quarantine
    assert store is not None
    broken = [True]
    real_keep = store.keep

    async def flaky(*args: Any, **kwargs: Any) -> None:
        if broken[0]:
            raise ConnectionError("database away")
        await real_keep(*args, **kwargs)

    store.keep = flaky  # type: ignore[method-assign]
    poison = h.tg.poison(5105)
    await h.tg.wait_for(lambda: h.tg.deliveries[poison] >= 2)
    assert h.tg.confirmed < poison
    broken[0] = False
    await h.tg.wait_for(lambda: h.tg.confirmed >= poison)
    assert await count(h, QuarantinedUpdate) == 1


async def test_delete_erases_the_persons_quarantined_updates(h: Harness) -> None:
    parent = Parent(h.tg, 5106)
    await join(h, parent)
    poison = h.tg.poison(parent.id, "entity")
    await h.tg.wait_for(lambda: h.tg.confirmed >= poison)
    other = h.tg.poison(5107, "date")  # someone else's stays
    await h.tg.wait_for(lambda: h.tg.confirmed >= other)
    assert await count(h, QuarantinedUpdate) == 2
    await parent.say("/delete", "erase everything")
    await parent.press("v:yes", "has been erased")
    async with h.dispatcher.sessionmaker() as session:
        left = (await session.scalars(select(QuarantinedUpdate.chat_ref))).all()
    assert left == ["5107"]


async def test_webhook_quarantines_an_unreadable_update_and_answers_200(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any, clock: Any
) -> None:
    import aiohttp

    settings = webhook_settings(tmp_path, tg, db_url)
    port = settings.telegram.port
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    adapter = adapter_for(settings, clock, [], dispatcher)
    await adapter.start(dispatcher.handle)
    bad = {
        "update_id": 91,
        "message": {
            "message_id": 1,
            "date": "yesterday",
            "chat": {"id": 5108, "type": "private", "first_name": "Secret"},
            "from": {"id": 5108, "is_bot": False, "first_name": "Secret"},
            "text": "hello",
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    try:
        async with aiohttp.ClientSession() as http:
            first = await http.post(f"http://127.0.0.1:{port}/tg-hook", json=bad, headers=headers)
            again = await http.post(f"http://127.0.0.1:{port}/tg-hook", json=bad, headers=headers)
    finally:
        await adapter.stop()
    assert (first.status, again.status) == (200, 200)
    async with sessionmaker() as session:
        kept = (await session.scalars(select(QuarantinedUpdate))).all()
    assert [(q.update_id, q.chat_ref) for q in kept] == [(91, "5108")]


# -- 2. replies a crash cut off before they were attempted go out on restart ----------------
async def crash(adapter: TelegramAdapter) -> None:
    """Stop the adapter as SIGKILL would: nothing more is sent, noted or confirmed."""
    tasks = [
        adapter._poll_task,
        adapter._ledger_task,
        adapter._sending._worker,
        adapter.limiter._task,
        *adapter._workers.values(),
        *adapter._background,
    ]
    running = [t for t in tasks if t is not None and not t.done()]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    adapter.started = False
    await adapter.bot.shutdown()  # only closes its connections


async def test_replies_held_before_their_first_attempt_are_sent_after_a_crash(
    h: Harness, tsettings: Settings, clock: Any
) -> None:
    """The chat is paused by a 429 (a scheduled prompt got it), so the answer's replies wait
    for their turn and are never attempted; crash. On restart they go out, once."""
    parent = Parent(h.tg, 5150)
    await join(h, parent)
    h.tg.fail("sendMessage", Fault.flood(60, chat=parent.id))
    prompt = asyncio.create_task(
        h.adapter.send(Address("telegram", str(parent.id)), Outbound("A scheduled prompt"))
    )
    await h.tg.wait_for(lambda: any(c.status == 429 for c in h.tg.calls))
    answer, _ = h.tg.text(parent.id, "4")
    await h.tg.wait_for(lambda: h.tg.confirmed >= answer)  # stored and acknowledged
    await asyncio.sleep(0.3)
    await crash(h.adapter)
    prompt.cancel()
    await asyncio.gather(prompt, return_exceptions=True)
    assert not any("that's all" in t for t in h.tg.texts(parent.id))

    h.tg.chat_flood_until.clear()  # the flood is over by the time the bot is back
    clock.advance(timedelta(seconds=5))
    again = adapter_for(tsettings, clock, [], h.dispatcher)
    await again.start(h.dispatcher.handle)
    try:
        await h.tg.wait_sent(parent.id, "that's all")
        await asyncio.sleep(0.5)  # room for a (wrong) second copy
    finally:
        await again.stop()
    assert sum("that's all" in t for t in h.tg.texts(parent.id)) == 1


class BlippedLease:
    """A polling lease that a test takes away once, as a failed renewal in a database blip
    does; taking it back is immediate (nobody else wants it)."""

    def __init__(self) -> None:
        self._held = True
        self.taken = 0

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        self._held = True
        self.taken += 1

    async def release(self) -> None:
        self._held = False


async def test_a_message_delivered_again_while_its_replies_wait_gets_them_once(
    tg: TelegramApiDouble, tsettings: Settings, sessionmaker: Any, clock: Any
) -> None:
    """The polling lease is lost while an answer is handled, before Telegram was told (by the
    next getUpdates) that it arrived. Taking the lease back starts polling afresh, so Telegram
    delivers the answer again, while its replies still wait behind a 429 in the chat's queue.
    The inbound log hands back the replies not yet attempted (all of them): they must still
    reach the person once, not twice."""
    dispatcher = Dispatcher(tsettings, sessionmaker, clock)
    lease = BlippedLease()
    adapter = adapter_for(tsettings, clock, [], dispatcher, leader=lease)
    seen: list[str] = []

    async def handle(inbound: Any) -> Any:
        replies = await dispatcher.handle(inbound)
        if inbound.text == "4":
            if not seen:
                lease._held = False  # the renewal failed just now
            seen.append(inbound.platform_msg_id)
        return replies

    await adapter.start(handle)
    h = Harness(tg, adapter, dispatcher, [])
    try:
        parent = Parent(tg, 5155)
        await join(h, parent)
        tg.fail("sendMessage", Fault.flood(2, chat=parent.id))
        prompt = asyncio.create_task(
            adapter.send(Address("telegram", str(parent.id)), Outbound("A scheduled prompt"))
        )
        await tg.wait_for(lambda: any(c.status == 429 for c in tg.calls))
        tg.text(parent.id, "4")
        await tg.wait_for(lambda: len(seen) == 2)  # handled, then delivered again
        assert lease.taken == 1 and seen[0] == seen[1]
        await tg.wait_sent(parent.id, "that's all", timeout=15)
        await prompt
        await asyncio.sleep(0.5)  # room for a (wrong) second copy
    finally:
        await adapter.stop()
    assert sum("that's all" in t for t in tg.texts(parent.id)) == 1


async def test_the_inbound_log_counts_attempts_per_reply(
    tsettings: Settings, sessionmaker: Any, clock: Any
) -> None:
    """Redelivery and restart both skip the replies already attempted; the one in flight is
    uncertain; a refused attempt is taken back."""
    from bot.events import Inbound
    from storage.repositories import InboundLogRepo

    dispatcher = Dispatcher(tsettings, sessionmaker, clock, group_commit=False)
    inbound = Inbound(
        platform="telegram",
        user_ref="5160",
        address=Address("telegram", "5160"),
        received_at=clock.now(),
        text="/start",
        platform_msg_id="5160:1",
    )
    replies = await dispatcher.handle(inbound)
    assert len(replies) == 2
    await dispatcher.sending("telegram", ["5160:1"])
    await dispatcher.not_sent("telegram", ["5160:1"])  # 429: it did not arrive
    assert await dispatcher.handle(inbound) == replies  # redelivered: all still due
    await dispatcher.sending("telegram", ["5160:1"])  # the first one is in flight
    assert await dispatcher.handle(inbound) == replies[1:]  # redelivered: not the first again
    clock.advance(timedelta(seconds=1))
    pending = await dispatcher.unreplied("telegram", clock.now())
    assert [(p.platform_msg_id, list(p.replies)) for p in pending] == [("5160:1", replies[1:])]
    async with sessionmaker() as session:
        assert await InboundLogRepo(session).uncertain_count("telegram") == 1


# -- 5. a send Telegram may have taken is not repeated ---------------------------------------
@pytest.mark.parametrize(
    "fault",
    [Fault.timeout_after_accept(3), Fault.drop_after_accept()],
    ids=["timeout-after-accept", "dropped-after-accept"],
)
async def test_a_send_without_answer_is_uncertain_and_not_repeated(
    h: Harness, fault: Fault
) -> None:
    h.tg.fail("sendMessage", fault)
    started = time.monotonic()
    msg_id = await h.adapter.send(
        Address("telegram", "5201"), Outbound("Your next question", prompt_ref="c:f:s")
    )
    assert msg_id is None
    assert time.monotonic() - started < 3
    assert h.tg.texts(5201) == ["Your next question"]  # delivered once, never again
    await asyncio.sleep(0.3)
    assert h.tg.texts(5201) == ["Your next question"]
    assert [(o.status, o.attempts, o.prompt_ref) for o in h.outcomes] == [("uncertain", 1, "c:f:s")]


async def test_refused_connections_and_server_errors_are_retried(tg: TelegramApiDouble) -> None:
    """Nothing reached Telegram (connection refused) or it said no (500): try again."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    closed = free_port()  # nothing listens there
    caller = Caller(RateLimiter(overall_rate=0, chat_rate=0), RetryPolicy(3, backoff=0.01))
    request = HTTPXRequest()
    nowhere = Bot(tg.token, base_url=f"http://127.0.0.1:{closed}/bot", request=request)
    try:
        with pytest.raises(CallFailed) as caught:
            await caller.call(
                "sendMessage",
                lambda: nowhere._post("sendMessage", {"chat_id": 1, "text": "x"}),
                chat="1",
                repeatable=False,
            )
    finally:
        await request.shutdown()
    assert not isinstance(caught.value, CallUncertain)
    assert caught.value.attempts == 3

    tg.fail("sendMessage", Fault(500), Fault(502))
    bot = Bot(tg.token, base_url=tg.base_url)
    async with bot:
        sent, tries = await caller.call(
            "sendMessage",
            lambda: bot.send_message(chat_id=5202, text="hello"),
            chat="5202",
            repeatable=False,
        )
    assert tries == 3 and tg.texts(5202) == ["hello"]
    await caller.limiter.close()


async def test_an_uncertain_reply_is_counted_and_the_next_one_still_goes(h: Harness) -> None:
    parent = Parent(h.tg, 5203)
    code = await h.invite()
    h.tg.fail("sendMessage", Fault.timeout_after_accept(3, chat=parent.id))
    await parent.say(f"/start {code}", "Do you agree")  # the second reply went out
    assert sum("Hello!" in t for t in h.tg.texts(parent.id)) == 1
    async with h.dispatcher.sessionmaker() as session:
        row = (await session.scalars(select(InboundLog))).one()
    await h.tg.wait_for(lambda: len(h.outcomes) == 2)
    assert [o.status for o in h.outcomes] == ["uncertain", "sent"]
    assert (row.replies_attempted, row.replies_uncertain) == (2, 1)


async def test_a_scheduled_prompt_that_timed_out_after_sending_is_not_sent_again(
    tmp_path: Path, tg: TelegramApiDouble, sessionmaker: Any, clock: Any
) -> None:
    from bot.scheduling.outbox import on_delivery
    from bot.scheduling.scheduler import CampaignScheduler
    from tests.helpers import Person
    from tests.scheduler.conftest import OPTIONS, campaign_settings

    settings = campaign_settings([{"flow": "pulse", "at": "2026-03-03 10:00"}])
    tsettings = telegram_settings(tmp_path, tg, "sqlite:///unused.db")
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    adapter = adapter_for(tsettings, clock, [], on_delivery=on_delivery)
    await adapter.start(lambda inbound: asyncio.sleep(0, []))
    scheduler = CampaignScheduler(
        settings, sessionmaker, dispatcher, {"telegram": adapter}, clock, OPTIONS
    )
    try:
        await Person(dispatcher, platform="telegram", user_ref="5204").join("1")
        clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
        tg.fail("sendMessage", Fault.timeout_after_accept(3))
        await scheduler.tick()
        clock.advance(timedelta(seconds=600))
        await scheduler.tick()
    finally:
        await adapter.stop()
    from storage.outbox_repository import OutboxRepo

    async with sessionmaker() as session:
        rows = await OutboxRepo(session).all()
    assert [r.status for r in rows] == ["uncertain"]  # recorded, never sent again
    assert len(tg.texts(5204)) == 1  # one prompt, though the call timed out


# -- 6. one chat's 429 is that chat's alone --------------------------------------------------
async def test_a_429_for_one_chat_does_not_hold_up_another(h: Harness) -> None:
    slow, quick = Parent(h.tg, 5301), Parent(h.tg, 5302)
    code = await h.invite()
    await slow.say(f"/start {code}", "Do you agree")
    h.tg.fail("sendMessage", Fault.flood(20, chat=slow.id))
    h.tg.text(slow.id, "/help")  # its reply now waits 20 s
    await h.tg.wait_for(lambda: any(c.status == 429 for c in h.tg.calls))
    started = time.monotonic()
    await quick.say("/start", "Do you agree", timeout=3)
    assert time.monotonic() - started < 1.5
    assert h.tg.early_after_flood_in_chat(slow.id) == []


async def test_an_absurd_retry_after_fails_the_send_at_once(h: Harness) -> None:
    h.tg.fail("sendMessage", Fault.flood(3600, chat=5303))
    started = time.monotonic()
    with pytest.raises(AdapterError) as caught:
        await h.adapter.send(Address("telegram", "5303"), Outbound("Hello", prompt_ref="p:2"))
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 3600
    assert [(o.status, o.prompt_ref) for o in h.outcomes] == [("failed", "p:2")]
    # nobody else is held up either
    await h.adapter.send(Address("telegram", "5304"), Outbound("Hi"))
    assert h.tg.texts(5304) == ["Hi"]


# -- 7. no platform ids in default logs ------------------------------------------------------
async def test_failures_log_no_chat_ids_below_debug(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h.tg.blocked = {5401}
    with pytest.raises(AdapterError):
        await h.adapter.send(Address("telegram", "5401"), Outbound("Hello"))
    h.tg.fail("sendMessage", Fault.timeout_after_accept(3, chat=5402))
    await h.adapter.send(Address("telegram", "5402"), Outbound("Hello"))
    h.tg.fail("sendMessage", Fault(500, chat=5403), Fault.flood(0.2, chat=5403))
    await h.adapter.send(Address("telegram", "5403"), Outbound("Hello"))
    parent = Parent(h.tg, 5404)
    h.adapter._edit_markup("5404", 999_999, None)  # a keyboard edit Telegram refuses
    code = await h.invite()
    await parent.say(f"/start {code}", "Do you agree")
    text = log_text(caplog, logging.INFO)
    assert "may not have arrived" in text and "failed" in text  # the faults were logged
    for chat in ("5401", "5402", "5403", "5404"):
        assert chat not in text, f"chat {chat} appears in a log line above DEBUG"
    assert "5401" in log_text(caplog, logging.DEBUG)  # DEBUG may name it


def test_address_repr_hides_the_chat() -> None:
    address = Address("telegram", "6960001")
    assert "6960001" not in repr(address) and "6960001" not in repr(
        DeliveryOutcome(address, None, "failed", 1, None, "x", datetime.now(UTC))
    )
    assert address == Address("telegram", "6960001")


# -- the double's seeded faults (used by the fault-injection suite) --------------------------
async def test_seeded_random_faults_repeat_with_the_seed(tg: TelegramApiDouble) -> None:
    from telegram import Bot

    async def run(seed: int) -> list[int]:
        tg.faults.clear()
        tg.faults.injected.clear()
        tg.faults.at_random(seed, "sendMessage", (0.3, Fault(500)), (0.2, Fault.flood(0.01)))
        calls = len(tg.calls)
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            for n in range(20):
                try:
                    await bot.send_message(chat_id=5500 + n, text="x")
                except Exception:  # noqa: BLE001 - the faults are the point here
                    pass
        return [c.status for c in tg.calls[calls:] if c.method == "sendMessage"]

    first, again = await run(7), await run(7)
    assert first == again and {500, 429} <= set(first) and 200 in first
    assert len(tg.faults.injected) == first.count(500) + first.count(429)


# -- a send counts as attempted only once its bytes may be on the wire ------------------------
async def test_a_prompt_killed_while_its_chat_waits_out_a_429_is_sent_once_after_restart(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any
) -> None:
    """The scheduled pulse meets a 429 (retry after 20 s) for its chat; the process is SIGKILLed
    while it waits. The outbox must not count it as possibly delivered (it was refused, and
    nothing else was written): after the restart it goes out exactly once and is ``sent``.
    (It used to be marked before the wait and stay marked, so it was settled ``uncertain`` and
    never sent.)"""
    from storage.models import OutboxRow
    from tests.adapters.test_telegram_process import BotProcess
    from tests.faults.scenario import FAR, PULSE, campaign_config

    parent = 6301
    section = {"telegram": {"token": tg.token, "base_url": tg.base_url}}
    config = campaign_config(tmp_path, db_url, FAR, section)
    bot = BotProcess(config, tmp_path / "bot.log", {"LISTENING_SCHEDULER_POLL": "1s"})

    async def arrives(marker: str, timeout: float = 20) -> None:
        await tg.wait_for(lambda: any(marker in t for t in tg.texts(parent)), timeout)

    def keyboard() -> Any:
        return [s for s in tg.sent if s.chat_id == parent and s.reply_markup][-1]

    await bot.start()
    try:
        tg.text(parent, "/start")
        await arrives("Do you agree")
        tg.press(parent, keyboard(), "v:yes")
        await arrives("best describes you")
        tg.press(parent, keyboard(), "v:parents")
        await arrives("taking part as")
        await bot.terminate()

        # the pulse falls due in a few seconds, and Telegram will hold the chat for 20 s
        at = datetime.fromtimestamp(int(time.time()) + 3, UTC)
        campaign_config(tmp_path, db_url, at, section)
        tg.fail("sendMessage", Fault.flood(20, chat=parent))
        await bot.start()
        await tg.wait_for(
            lambda: any(c.method == "sendMessage" and c.status == 429 for c in tg.calls), 30
        )
        await asyncio.sleep(1.0)  # well inside the 20 s wait
        await bot.kill()
        assert not any(PULSE in t for t in tg.texts(parent))

        tg.chat_flood_until.clear()  # the flood is over by the time the bot is back
        await bot.start()
        await arrives(PULSE, 30)
        await asyncio.sleep(2.0)  # room for a (wrong) second copy
    finally:
        assert await bot.terminate() == 0, (tmp_path / "bot.log").read_text()
    assert sum(PULSE in t for t in tg.texts(parent)) == 1
    async with sessionmaker() as session:
        statuses = (await session.scalars(select(OutboxRow.status))).all()
    assert "uncertain" not in statuses and "sent" in statuses, statuses


# -- webhook mode: any worker may take any update, so replies are claimed ---------------------
async def _committed_unsent(dispatcher: Dispatcher, clock: Any, chat: int) -> list[Outbound]:
    """Replies committed for a message whose worker then died before sending any."""
    from bot.events import Inbound

    return await dispatcher.handle(
        Inbound(
            platform="telegram",
            user_ref=str(chat),
            address=Address("telegram", str(chat)),
            received_at=clock.now(),
            text="/start",
            platform_msg_id=f"{chat}:1",
        )
    )


async def test_two_webhook_workers_starting_together_resend_cut_off_replies_once(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any, clock: Any
) -> None:
    """A worker died after committing a message's replies. Two workers (re)start at once on the
    same database: each claims what it resends, so the replies go out exactly once. (Both used
    to resend everything they found.)"""
    settings = webhook_settings(tmp_path, tg, db_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    replies = await _committed_unsent(dispatcher, clock, 6401)
    assert len(replies) >= 1 and tg.texts(6401) == []
    clock.advance(timedelta(seconds=5))
    workers = [
        adapter_for(webhook_settings(tmp_path / str(i), tg, db_url), clock, [], dispatcher)
        for i in range(2)
    ]
    await asyncio.gather(*(w.start(dispatcher.handle) for w in workers))
    try:
        await tg.wait_for(lambda: len(tg.texts(6401)) >= len(replies), 10)
        await asyncio.sleep(0.5)  # room for a (wrong) second copy
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
    assert tg.texts(6401) == [r.text for r in replies]


async def test_a_webhook_worker_takes_over_replies_only_once_their_claim_is_stale(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any, clock: Any
) -> None:
    """Another worker claimed a message's replies (it is sending them, or it died): a worker
    starting now leaves them alone while the claim is fresh, and its sweep sends them once the
    claim was not renewed for ``claim_stale``, once."""
    settings = webhook_settings(tmp_path, tg, db_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    replies = await _committed_unsent(dispatcher, clock, 6402)
    assert await dispatcher.claim_sending("telegram", "6402:1")  # the other worker, then dead
    worker = adapter_for(settings, clock, [], dispatcher, claim_stale=0.6)
    await worker.start(dispatcher.handle)
    try:
        await asyncio.sleep(0.8)  # sweeps ran; the claim is fresh by the database's clock
        assert tg.texts(6402) == []
        clock.advance(timedelta(seconds=5))  # nobody renewed it since
        await tg.wait_for(lambda: len(tg.texts(6402)) >= len(replies), 10)
        await asyncio.sleep(0.8)  # more sweeps: nothing twice
    finally:
        await worker.stop()
    assert tg.texts(6402) == [r.text for r in replies]


async def test_a_webhook_redelivery_of_a_claimed_message_sends_nothing_again(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any, clock: Any
) -> None:
    """Telegram redelivers an update to a second worker while the first still sends its
    replies: only the claimant sends."""
    settings = webhook_settings(tmp_path, tg, db_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    first, second = (
        adapter_for(webhook_settings(tmp_path / str(i), tg, db_url), clock, [], dispatcher)
        for i in range(2)
    )
    await first.start(dispatcher.handle)
    await second.start(dispatcher.handle)
    import aiohttp

    tg.text(6403, "/start")
    payload = tg.updates[-1]  # what Telegram posts to the webhook, and posts again
    try:
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with aiohttp.ClientSession() as http:
            for worker in (first, second):
                url = f"http://127.0.0.1:{worker.webhook_port}/tg-hook"
                async with http.post(url, json=payload, headers=headers) as response:
                    assert response.status == 200
        await tg.wait_for(lambda: len(tg.texts(6403)) >= 2, 10)
        await asyncio.sleep(0.5)
    finally:
        await first.stop()
        await second.stop()
    texts = tg.texts(6403)
    assert len(texts) == len(set(texts)), texts


async def test_quarantined_updates_of_people_not_taking_part_are_purged_like_contact_details(
    sessionmaker: Any, clock: Any
) -> None:
    """An unreadable update from someone who never joined is personal data no campaign holds:
    retention removes it once older than the shortest contact-details period (90 days here),
    while a participant's own stays until their contact details go."""
    from bot.privacy.retention import run_purge
    from storage.quarantine import QuarantineRepo
    from tests.helpers import Person
    from tests.privacy.test_retention import _settings

    settings = _settings(anonymise=False)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    joined = Person(dispatcher, platform="telegram", user_ref="6501")
    await joined.say("/start")
    await joined.say("1")
    await joined.say("yes")
    async with sessionmaker.begin() as session:
        repo = QuarantineRepo(session)
        for update_id, ref in ((1, "6501"), (2, "6502")):  # a participant's, a stranger's
            await repo.keep(
                "telegram",
                update_id,
                {"update_id": update_id},
                "x",
                clock.now(),
                chat_ref=ref,
                user_ref=ref,
            )

    async def purge(apply: bool) -> Any:
        async with sessionmaker.begin() as session:
            return await run_purge(session, settings, clock.now(), apply=apply)

    async def kept() -> list[str | None]:
        async with sessionmaker() as session:
            return list(await session.scalars(select(QuarantinedUpdate.chat_ref)))

    clock.advance(timedelta(days=89))
    assert (await purge(apply=False)).quarantined_of_others == 0
    clock.advance(timedelta(days=2))
    assert (await purge(apply=False)).quarantined_of_others == 1
    done = await purge(apply=True)
    assert done.quarantined_of_others == 1 and done.counts()["quarantined_of_others"] == 1
    assert await kept() == ["6501"]
    assert (await purge(apply=False)).quarantined_of_others == 0


async def test_cut_off_replies_go_out_even_if_the_database_is_away_at_restart(
    tsettings: Settings, tg: TelegramApiDouble, sessionmaker: Any, clock: Any
) -> None:
    """The look-up for replies a crash cut off fails at first (the database is away right after
    the restart): it is tried again, and they go out once (it used to be tried once, and they
    then waited for the next restart)."""

    dispatcher = AwayAtFirst(tsettings, sessionmaker, clock)
    committed = await _committed_unsent(dispatcher, clock, 6404)
    clock.advance(timedelta(seconds=5))
    adapter = adapter_for(tsettings, clock, [], dispatcher)
    await adapter.start(dispatcher.handle)
    try:
        await tg.wait_for(lambda: len(tg.texts(6404)) >= len(committed), 10)
        await asyncio.sleep(0.3)
    finally:
        await adapter.stop()
    assert dispatcher.refusals == 0
    assert tg.texts(6404) == [r.text for r in committed]
