"""Pure pieces of the Telegram adapter: text splitting, callback data, keyboards, pacing."""

from __future__ import annotations

import asyncio
import time

from bot.adapters.telegram import RateLimiter, split_text, utf16_len
from bot.adapters.telegram._keyboards import decode, keyboard_for, multi_keyboard, read_multi
from bot.events import Choice, Outbound


def test_split_keeps_every_character_and_respects_utf16_limit() -> None:
    text = ("Paragraph with emoji 😀 and words. " * 150 + "\n\n") * 3
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(utf16_len(p) <= 4096 for p in pieces) and len(pieces) > 1


def test_split_without_spaces_still_fits() -> None:
    text = "x" * 9000
    assert [len(p) for p in split_text(text)] == [4096, 4096, 808]


def test_short_text_is_one_piece() -> None:
    assert split_text("hello") == ["hello"]


def test_callback_data_round_trip_and_long_values_fall_back_to_position() -> None:
    long = Choice("A very long campaign", "c" * 70)
    markup = keyboard_for(Outbound("Pick", (Choice("Yes", "yes"), long)))
    datas = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert datas == ["v:yes", "n:2"]
    assert decode("v:yes").value == "yes" and decode("n:2").index == 2
    assert decode("x").action == "noop" and decode("junk").action == "unknown"


def test_multi_keyboard_state_is_read_back_from_the_buttons() -> None:
    markup = multi_keyboard(["Weekly", "Monthly", "Rarely"], {0, 2})
    assert read_multi(markup) == (["Weekly", "Monthly", "Rarely"], {0, 2})
    assert markup.inline_keyboard[-1][0].callback_data == "d"


async def test_limiter_keeps_overall_rate_and_serves_replies_first() -> None:
    limiter = RateLimiter(overall_rate=50, overall_burst=1, chat_rate=0)
    order: list[str] = []

    async def send(name: str, priority: int) -> None:
        await limiter.acquire(None, priority)
        order.append(name)

    started = time.monotonic()
    bulk = [asyncio.create_task(send(f"b{i}", 1)) for i in range(10)]
    await asyncio.sleep(0)
    reply = asyncio.create_task(send("reply", 0))
    await asyncio.gather(*bulk, reply)
    elapsed = time.monotonic() - started
    await limiter.close()
    assert 0.15 <= elapsed < 0.5  # 11 slots at 50/s
    assert order.index("reply") <= 2


async def test_limiter_pause_holds_everyone() -> None:
    limiter = RateLimiter(overall_rate=1000, chat_rate=0)
    limiter.pause(0.2)
    started = time.monotonic()
    await limiter.acquire("1")
    await limiter.close()
    assert time.monotonic() - started >= 0.19
