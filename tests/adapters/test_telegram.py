"""The Telegram adapter against a local double of the Bot API, storing in a real database.

Each test drives python-telegram-bot through ``base_url`` exactly as Telegram would be driven,
then checks what the double received and what the database holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.telegram import RateLimiter, RetryPolicy, TelegramAdapter
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.events import Address, Choice, Outbound
from storage.models import InboundLog, Participant, Response
from tests.adapters.telegram_harness import (
    CAMPAIGN,
    Harness,
    Parent,
    make_adapter,
    telegram_settings,
    webhook_settings,
)
from tests.doubles.telegram_api import Fault, TelegramApiDouble
from tests.helpers import stored

PULSE_ASK = "How positive"


@pytest.fixture
async def h(tg, tsettings, sessionmaker, clock) -> AsyncIterator[Harness]:
    dispatcher = Dispatcher(tsettings, sessionmaker, clock)
    outcomes: list[Any] = []
    adapter = make_adapter(tsettings, clock, outcomes)
    await adapter.start(dispatcher.handle)
    try:
        yield Harness(tg, adapter, dispatcher, outcomes)
    finally:
        await adapter.stop()
    assert tg.unknown == [], "the adapter called methods the double does not know"


@pytest.fixture
async def bare(tmp_path: Path, tg: TelegramApiDouble, clock: Any) -> AsyncIterator[Harness]:
    """The adapter alone (its sink answers nothing), for tests about sending only."""
    settings = telegram_settings(tmp_path, tg, "sqlite:///unused.db")
    outcomes: list[Any] = []
    adapter = make_adapter(settings, clock, outcomes)

    async def nothing(inbound: Any) -> list[Outbound]:
        return []

    await adapter.start(nothing)
    try:
        yield Harness(tg, adapter, None, outcomes)  # type: ignore[arg-type]
    finally:
        await adapter.stop()


async def join(h: Harness, parent: Parent) -> None:
    code = await h.invite()
    replies = await parent.say(f"/start {code}", "Do you agree")
    assert "Hello!" in replies[0]
    await parent.press("v:yes", PULSE_ASK)


async def count(h: Harness, model: Any) -> int:
    async with h.dispatcher.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# -- joining and answering -------------------------------------------------------------------
async def test_start_registers_commands_and_polls(bare: Harness) -> None:
    names = [c["command"] for c in bare.tg.commands]
    assert names == ["start", "help", "stop", "mydata", "delete", "done", "skip"]
    assert bare.tg.calls_to("getMe") and bare.tg.calls_to("deleteWebhook")
    await bare.tg.wait_for(lambda: bool(bare.tg.calls_to("getUpdates")))
    polls = bare.tg.calls_to("getUpdates")
    assert polls and polls[0].params["allowed_updates"] == [
        "message",
        "edited_message",
        "callback_query",
    ]


async def test_deep_link_consent_scale_button_and_open_text(h: Harness) -> None:
    parent = Parent(h.tg)
    await join(h, parent)
    consent = [s for s in h.tg.sent if "Do you agree" in s.text][0]
    # the pressed consent keyboard now shows the answer and cannot be pressed again
    assert consent.reply_markup == {"inline_keyboard": [[{"text": "✓ Yes", "callback_data": "x"}]]}
    assert len(h.tg.calls_to("answerCallbackQuery")) == 1
    scale = parent.keyboard()
    assert [b["text"] for b in scale.reply_markup["inline_keyboard"][0]] == list("12345")
    await parent.press("v:4", "Thank you, that's all")
    # the scheduler would offer challenge-1 two days later; do what it does
    async with h.dispatcher.sessionmaker() as session:
        pid = await session.scalar(select(Participant.id))
    address, prompts = await h.dispatcher.offer(pid, CAMPAIGN, "challenge-1@2d", "challenge-1")
    assert address == Address("telegram", str(parent.id))
    for prompt in prompts:
        await h.adapter.send(address, prompt)
    await parent.say("Local groups know the families.", "example from your own")
    await parent.say("At our toddler group, =SUM(A1) people came", "need to be in place")
    await parent.say("/done", "Thank you, that is really helpful")
    rows = await stored(h.dispatcher)
    assert [(r.flow, r.step, r.group, r.channel, r.kind, r.answer) for r in rows] == [
        ("pulse", "positive", "parents", "telegram", "scale", "4"),
        (
            "challenge-1",
            "opening",
            "parents",
            "telegram",
            "open",
            "Local groups know the families.",
        ),
        (
            "challenge-1",
            "probe-1",
            "parents",
            "telegram",
            "open",
            "At our toddler group, =SUM(A1) people came",
        ),
    ]
    assert all(o.status == "sent" for o in h.outcomes)
    assert any(o.prompt_ref == f"{CAMPAIGN}:pulse:positive" for o in h.outcomes)


async def test_wrong_invite_code_gets_one_sentence_and_group_choice(h: Harness) -> None:
    parent = Parent(h.tg, 5002)
    replies = await parent.say("/start NOPE123", "Do you agree")
    assert replies[0] == "Sorry, that invite code isn't valid."
    await parent.press("v:yes", "Which of these best describes you?")
    labels = [row[0]["text"] for row in parent.keyboard().reply_markup["inline_keyboard"]]
    assert "Parents and carers" in labels and "Local authority professionals" not in labels
    await parent.press("v:parents", PULSE_ASK)
    async with h.dispatcher.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Participant)) == 1


async def test_spent_invite_code_is_refused(h: Harness) -> None:
    code = await h.invite(max_uses=1)
    first, second = Parent(h.tg, 5003), Parent(h.tg, 5004)
    await first.say(f"/start {code}", "Do you agree")
    await first.press("v:yes", PULSE_ASK)
    replies = await second.say(f"/start {code}", "Do you agree")
    assert replies[0] == "Sorry, that invite code has already been used up."


async def test_multi_choice_toggles_then_done(h: Harness) -> None:
    parent = Parent(h.tg, 5005)
    choices = tuple(
        Choice(label, str(i)) for i, label in enumerate(["Weekly", "Monthly", "Rarely"], start=1)
    )
    await h.adapter.send(
        Address("telegram", str(parent.id)), Outbound("Which apply?", choices, multi=True)
    )
    await h.tg.wait_for(lambda: bool(h.tg.sent))
    keyboard = parent.keyboard()
    h.tg.press(parent.id, keyboard, "t:0")
    await h.tg.wait_for(
        lambda: keyboard.reply_markup["inline_keyboard"][0][0]["text"] == "☑ Weekly"
    )
    h.tg.press(parent.id, keyboard, "t:2")
    await h.tg.wait_for(
        lambda: keyboard.reply_markup["inline_keyboard"][2][0]["text"] == "☑ Rarely"
    )
    # the person is not enrolled, so the engine answers /start-style; what matters is the value
    seen: list[str] = []
    original = h.adapter._sink

    async def spy(inbound):
        seen.append(inbound.text)
        return await original(inbound)

    h.adapter._sink = spy
    h.tg.press(parent.id, keyboard, "d")
    await h.tg.wait_for(lambda: seen == ["1,3"])
    await h.tg.wait_for(
        lambda: (
            keyboard.reply_markup
            == {
                "inline_keyboard": [
                    [{"text": "✓ Weekly", "callback_data": "x"}],
                    [{"text": "✓ Rarely", "callback_data": "x"}],
                ]
            }
        )
    )


async def test_a_keyboard_cannot_be_pressed_twice(h: Harness) -> None:
    parent = Parent(h.tg, 5006)
    await join(h, parent)
    scale = parent.keyboard()
    # two fast presses on the same keyboard, before the bot has updated it
    h.tg.press(parent.id, scale, "v:4")
    h.tg.press(parent.id, scale, "v:5")
    await h.tg.wait_for(lambda: len(h.tg.calls_to("answerCallbackQuery")) == 3)
    await parent.tg.wait_for(lambda: any("that's all" in t for t in parent.tg.texts(parent.id)))
    answers = [c.params.get("text") for c in h.tg.calls_to("answerCallbackQuery")]
    assert "You've already answered this one." in answers
    rows = await stored(h.dispatcher)
    assert [(r.step, r.answer) for r in rows] == [("positive", "4")]


async def test_stale_keyboard_is_refused_after_the_question_moved_on(h: Harness) -> None:
    parent = Parent(h.tg, 5007)
    await join(h, parent)
    scale = parent.keyboard()
    await parent.say("3", "that's all")  # answered by typing instead
    await parent.say("/delete", "Do you want to erase")  # a newer keyboard
    h.tg.press(parent.id, scale, "v:5")
    await h.tg.wait_for(
        lambda: any(
            c.params.get("text", "").startswith("That question has moved on")
            for c in h.tg.calls_to("answerCallbackQuery")
        )
    )
    rows = await stored(h.dispatcher)
    assert [(r.step, r.answer) for r in rows] == [("positive", "3")]


# -- rights ----------------------------------------------------------------------------------
async def test_stop_then_messages_are_not_kept(h: Harness) -> None:
    parent = Parent(h.tg, 5008)
    await join(h, parent)
    await parent.say("/stop", "You've stopped taking part")
    await parent.say("one more thing", "didn't keep that message")
    assert await stored(h.dispatcher) == []
    stop_reply = next(
        c for c in h.tg.calls_to("sendMessage") if "stopped taking" in c.params["text"]
    )
    assert "reply_markup" not in stop_reply.params  # no yes/no question to answer by mistake


async def test_plain_stop_and_invisible_text_on_telegram(h: Harness) -> None:
    parent = Parent(h.tg, 5011)
    await join(h, parent)
    await parent.say("\u200b\u2060", "looked empty")
    await parent.say("Stop", "You've stopped taking part")
    await parent.say("4", "didn't keep that message")
    assert await stored(h.dispatcher) == []


async def test_delete_erases_everything(h: Harness) -> None:
    parent = Parent(h.tg, 5009)
    await join(h, parent)
    await parent.press("v:2", "that's all")
    assert len(await stored(h.dispatcher)) == 1
    await parent.say("/delete", "erase everything")
    await parent.press("v:yes", "has been erased")
    assert await stored(h.dispatcher) == []
    assert await count(h, Participant) == 0


# -- other kinds of message ------------------------------------------------------------------
async def test_sticker_and_photo_get_a_friendly_reply_and_are_not_stored(h: Harness) -> None:
    parent = Parent(h.tg, 5010)
    await join(h, parent)
    before = len(h.tg.texts(parent.id))
    h.tg.sticker(parent.id)
    h.tg.photo(parent.id)
    await h.tg.wait_for(lambda: len(h.tg.texts(parent.id)) >= before + 2)
    assert sum("I can only read text" in t for t in h.tg.texts(parent.id)[before:]) == 2
    assert await stored(h.dispatcher) == []


async def test_voice_note_is_kept_with_its_file_id(h: Harness) -> None:
    parent = Parent(h.tg, 5011)
    await join(h, parent)
    await parent.press("v:4", "that's all")
    async with h.dispatcher.sessionmaker() as session:
        pid = await session.scalar(select(Participant.id))
    address, prompts = await h.dispatcher.offer(pid, CAMPAIGN, "challenge-1@2d", "challenge-1")
    for prompt in prompts:
        await h.adapter.send(address, prompt)
    before = len(h.tg.texts(parent.id))
    h.tg.voice(parent.id, "AwACAgVoiceFileId42")
    await parent._await(before, "kept your voice note", 10)
    async with h.dispatcher.sessionmaker() as session:
        row = (await session.scalars(select(Response).where(Response.kind == "voice"))).one()
    assert (row.flow_id, row.answer, row.file_id) == (
        "challenge-1",
        "[voice note]",
        "AwACAgVoiceFileId42",
    )


async def test_edited_message_updates_the_answer_and_keeps_the_original(h: Harness) -> None:
    parent = Parent(h.tg, 5012)
    await join(h, parent)
    await parent.press("v:4", "that's all")
    async with h.dispatcher.sessionmaker() as session:
        pid = await session.scalar(select(Participant.id))
    address, prompts = await h.dispatcher.offer(pid, CAMPAIGN, "challenge-1@2d", "challenge-1")
    for prompt in prompts:
        await h.adapter.send(address, prompt)
    before = len(h.tg.texts(parent.id))
    _, message_id = h.tg.text(parent.id, "Teh groups know families")
    await parent._await(before, "example", 10)
    edit_id = h.tg.edit(parent.id, message_id, "The groups know families")
    await h.tg.wait_for(lambda: h.tg.confirmed >= edit_id)
    async with h.dispatcher.sessionmaker() as session:
        row = (
            await session.scalars(select(Response).where(Response.flow_id == "challenge-1"))
        ).one()
    assert (row.answer, row.original_answer) == (
        "The groups know families",
        "Teh groups know families",
    )
    assert row.edited_at is not None


async def test_group_chats_are_ignored_unless_configured(h: Harness) -> None:
    update_id, _ = h.tg.text(7001, "/start", chat_id=-100123, kind="supergroup")
    await h.tg.wait_for(lambda: h.tg.confirmed >= update_id)
    assert h.tg.sent == []
    assert await count(h, Participant) == 0


async def test_long_text_is_split_under_the_limit(bare: Harness) -> None:
    text = ("A sentence that goes on. " * 400).strip()  # ~10,000 characters
    msg_id = await bare.adapter.send(Address("telegram", "5013"), Outbound(text))
    pieces = bare.tg.texts(5013)
    assert len(pieces) == 3 and all(len(p) <= 4096 for p in pieces)
    assert "".join(pieces) == text
    assert msg_id == str(bare.tg.sent[-1].message_id)


# -- misbehaving Telegram --------------------------------------------------------------------
async def test_429_retry_after_is_honoured(h: Harness) -> None:
    parent = Parent(h.tg, 5014)
    code = await h.invite()
    h.tg.fail("sendMessage", Fault(429, retry_after=1))
    started = time.monotonic()
    await parent.say(f"/start {code}", "Do you agree")
    flood = [c for c in h.tg.calls if c.status == 429]
    assert len(flood) == 1
    after = [c for c in h.tg.calls if c.at > flood[0].at and c.method == "sendMessage"]
    assert after[0].at - flood[0].at >= 1.0
    assert h.tg.early_after_flood() == []
    assert time.monotonic() - started < 5
    assert h.tg.texts(parent.id).count(h.tg.texts(parent.id)[0]) == 1  # no duplicate
    welcome = [o for o in h.outcomes if o.address.chat_ref == str(parent.id)][0]
    assert (welcome.status, welcome.attempts) == ("sent", 2)


async def test_500_then_success_is_retried_once(h: Harness) -> None:
    parent = Parent(h.tg, 5015)
    code = await h.invite()
    h.tg.fail("sendMessage", Fault(500))
    await parent.say(f"/start {code}", "Do you agree")
    statuses = [c.status for c in h.tg.calls if c.method == "sendMessage"]
    assert statuses == [500, 200, 200]
    assert len(h.tg.texts(parent.id)) == 2
    await h.tg.wait_for(lambda: len(h.outcomes) == 2)
    assert [o.attempts for o in h.outcomes] == [2, 1]


async def test_permanent_failure_is_reported_not_retried(bare: Harness) -> None:
    bare.tg.blocked = {5016}
    with pytest.raises(Exception) as caught:
        await bare.adapter.send(Address("telegram", "5016"), Outbound("Hello", prompt_ref="p:1"))
    assert "blocked" in str(caught.value)
    assert [(o.status, o.attempts, o.prompt_ref) for o in bare.outcomes] == [("failed", 1, "p:1")]
    assert len([c for c in bare.tg.calls if c.method == "sendMessage"]) == 1


async def test_server_errors_are_retried_with_backoff_then_given_up(bare: Harness) -> None:
    bare.tg.fail("sendMessage", *[Fault(502)] * 6)
    with pytest.raises(Exception, match="sendMessage"):
        await bare.adapter.send(Address("telegram", "5017"), Outbound("Hello"))
    assert len(bare.tg.calls_to("sendMessage")) == 0
    assert [(o.status, o.attempts) for o in bare.outcomes] == [("failed", 6)]


# -- acknowledging only what is stored -------------------------------------------------------
async def test_update_is_confirmed_only_after_it_is_committed(h: Harness) -> None:
    parent = Parent(h.tg, 5018)
    code = await h.invite()
    release = asyncio.Event()
    original = h.adapter._sink
    failures = [1]

    async def slow_then_fail_once(inbound):
        await release.wait()
        if failures:
            failures.pop()
            raise RuntimeError("database went away")
        return await original(inbound)

    h.adapter._sink = slow_then_fail_once
    update_id, _ = h.tg.text(parent.id, f"/start {code}")
    await h.tg.wait_for(lambda: h.tg.deliveries[update_id] == 1)
    await asyncio.sleep(0.2)
    assert h.tg.confirmed < update_id  # not acknowledged while being handled
    release.set()
    await parent._await(0, "Do you agree", 10)
    assert h.tg.deliveries[update_id] == 2  # the failure meant Telegram delivered it again
    await h.tg.wait_for(lambda: h.tg.confirmed >= update_id)
    assert await count(h, InboundLog) == 1


async def test_duplicate_update_after_restart_is_harmless(
    h: Harness, tsettings: Settings, clock: Any
) -> None:
    parent = Parent(h.tg, 5019)
    await join(h, parent)
    update_id = h.tg.press(parent.id, parent.keyboard(), "v:4")
    await h.tg.wait_for(lambda: any("that's all" in t for t in h.tg.texts(parent.id)))
    await h.adapter.stop()
    # Telegram never got the acknowledgement (say the process died): it delivers it again
    h.tg.confirmed = update_id - 1
    outcomes: list[Any] = []
    again = make_adapter(tsettings, clock, outcomes)
    await again.start(h.dispatcher.handle)
    try:
        await h.tg.wait_for(lambda: h.tg.deliveries[update_id] == 2)
        await h.tg.wait_for(lambda: h.tg.confirmed >= update_id)
    finally:
        await again.stop()
    rows = await stored(h.dispatcher)
    assert [(r.step, r.answer) for r in rows] == [("positive", "4")]


# -- pacing ----------------------------------------------------------------------------------
async def test_outbound_respects_per_chat_and_overall_limits(
    tmp_path: Path, tg: TelegramApiDouble, clock: Any
) -> None:
    tsettings = telegram_settings(tmp_path, tg, "sqlite:///unused.db")
    tg.limit(overall=30, per_chat=1, overall_burst=3, chat_burst=1)  # strict, like Telegram
    outcomes: list[Any] = []
    limiter = RateLimiter(overall_rate=30, overall_burst=3, chat_rate=1, chat_burst=3)
    adapter = make_adapter(tsettings, clock, outcomes, limiter=limiter)

    async def nothing(inbound):
        return []

    await adapter.start(nothing)
    try:
        started = time.monotonic()
        sends = [
            adapter.send(Address("telegram", str(chat)), Outbound(f"prompt {chat}-{n}"))
            for n in range(4)
            for chat in range(9001, 9011)
        ]
        await asyncio.gather(*sends)
        elapsed = time.monotonic() - started
    finally:
        await adapter.stop()
    assert len(tg.sent) == 40 and len({s.text for s in tg.sent}) == 40
    # Pacing, read from what Telegram received: a chat never gets two messages less than 1 s
    # apart, and no second holds more than the overall limit plus its burst. (The arrival times
    # carry this machine's scheduling jitter, so 50 ms of slack; a rare 429 from the double's
    # strict flood control under heavy load is retried and still lands within these bounds.)
    accepted = tg.calls_to("sendMessage")
    by_chat: dict[int, list[float]] = {}
    for call in accepted:
        by_chat.setdefault(int(call.params["chat_id"]), []).append(call.at)
    gaps = [b - a for times in by_chat.values() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.95, sorted(gaps)[:3]
    arrivals = sorted(call.at for call in accepted)
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 30 + 3
    assert tg.rate_limited <= 1  # flood control is not how the pacing is achieved
    # bulk sends keep strictly to 1/s per chat: the 4th message to a chat goes 3 s after the 1st
    assert 2.9 <= elapsed < 4.5


async def test_webhook_mode_checks_the_secret_token(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, sessionmaker: Any, clock: Any
) -> None:
    import aiohttp

    tsettings = webhook_settings(tmp_path, tg, db_url, secret="s3cret-Token_1")
    port = tsettings.telegram.port
    dispatcher = Dispatcher(tsettings, sessionmaker, clock)
    outcomes: list[Any] = []
    adapter = make_adapter(tsettings, clock, outcomes)
    await adapter.start(dispatcher.handle)
    harness = Harness(tg, adapter, dispatcher, outcomes)
    code = await harness.invite()
    update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": 5020, "type": "private", "first_name": "P"},
            "from": {"id": 5020, "is_bot": False, "first_name": "P"},
            "text": f"/start {code}",
        },
    }
    try:
        assert tg.webhook is not None and tg.webhook["secret_token"] == "s3cret-Token_1"
        assert tg.calls_to("getUpdates") == []
        url = f"http://127.0.0.1:{port}/tg-hook"
        async with aiohttp.ClientSession() as http:
            bad = await http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
            )
            assert bad.status == 403
            assert await count(harness, Participant) == 0
            good = await http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            )
            assert good.status == 200
            assert await count(harness, InboundLog) == 1  # committed before the 200
            again = await http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            )
            assert again.status == 200
        await tg.wait_sent(5020, "Do you agree")
    finally:
        await adapter.stop()
    assert await count(harness, InboundLog) == 1
    assert len(tg.texts(5020)) == 2


def test_webhook_mode_without_secret_is_refused(tmp_path: Path) -> None:
    from bot.config import TelegramSettings
    from bot.errors import ConfigError

    settings = TelegramSettings(token="1:x", mode="webhook", url="https://example.org/hook")
    with pytest.raises(ConfigError) as caught:
        TelegramAdapter(settings, clock=None)  # type: ignore[arg-type]
    assert any(p.startswith("telegram.secret_token") for p in caught.value.problems)


def test_retry_policy_defaults_are_sane() -> None:
    policy = RetryPolicy()
    assert policy.attempts >= 3 and policy.backoff > 0
