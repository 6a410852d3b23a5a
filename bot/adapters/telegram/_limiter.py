"""Outbound pacing: about 30 messages a second overall, about 1 a second per chat, and a pause
when Telegram answers 429 with ``retry_after``: for that chat alone when the refused call wrote
to a chat (one busy chat never holds up the others), for every call otherwise.

Both limits are GCRAs (a token bucket written as one "theoretical arrival time"). One dispenser
task hands out the overall slots, each to the first waiter (by priority, then arrival) whose chat
may take a message now, so the per-chat spacing holds at the moment of sending, replies to
someone who is talking with the bot go before a bulk fan-out, and a chat that must wait never
holds up the others. Replies may burst a little in one chat (Telegram allows short bursts);
bulk sends keep strictly to the per-chat rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REPLY = 0
"""Priority of replies to a person who just wrote (served first)."""
BULK = 1
"""Priority of scheduled prompts and reminders."""


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    chat: str | None = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class RateLimiter:
    """Hands out permission to send, keeping overall and per-chat rates.

    Args:
        overall_rate: messages per second across all chats.
        overall_burst: how many may go back to back before the rate applies.
        chat_rate: messages per second into one chat.
        chat_burst: how many replies may go into one chat back to back.
        monotonic: the time source (seconds).
    """

    def __init__(
        self,
        *,
        overall_rate: float = 30.0,
        overall_burst: int = 3,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1.0 / overall_rate if overall_rate > 0 else 0.0
        self._tau = max(0, overall_burst - 1) * self._interval
        self._chat_interval = 1.0 / chat_rate if chat_rate > 0 else 0.0
        self._chat_tau = max(0, chat_burst - 1) * self._chat_interval
        self._now = monotonic
        self._tat = 0.0
        self._chat_tat: dict[str, float] = {}
        self._paused_until = 0.0
        self._chat_paused: dict[str, float] = {}
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def paused_for(self) -> float:
        """Seconds left of a 429 pause (0 when sending is allowed)."""
        return max(0.0, self._paused_until - self._now())

    @property
    def waiting(self) -> int:
        """Senders waiting for a slot."""
        return len(self._waiters)

    def pause(self, seconds: float, chat: str | None = None) -> None:
        """Telegram said "retry after": nothing goes to ``chat`` until then (to anyone if None)."""
        until = self._now() + seconds
        if chat is None:
            self._paused_until = max(self._paused_until, until)
        else:
            self._chat_paused[chat] = max(self._chat_paused.get(chat, 0.0), until)
        if self._wakeup is not None:
            self._wakeup.set()

    async def wait_unpaused(self, chat: str | None = None) -> None:
        """Wait out a 429 pause for everyone (and for ``chat``, if given)."""
        while (
            left := max(
                self.paused_for,
                self._chat_paused.get(chat, 0.0) - self._now() if chat is not None else 0.0,
            )
        ) > 0:
            await asyncio.sleep(left)

    async def acquire(self, chat: str | None, priority: int = BULK) -> None:
        """Wait for a slot; returns when a message to ``chat`` may be sent."""
        if self._interval or (chat is not None and self._chat_interval):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiter = _Waiter(priority, next(self._seq), chat, future)
            # keep the list ordered by (priority, arrival); arrivals are mostly at the end
            index = len(self._waiters)
            while index and self._waiters[index - 1] > waiter:
                index -= 1
            self._waiters.insert(index, waiter)
            if self._wakeup is None:
                self._wakeup = asyncio.Event()
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._dispense(), name="telegram-rate-limiter")
            self._wakeup.set()
            try:
                await future
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        await self.wait_unpaused(chat)

    def _chat_ready(self, waiter: _Waiter) -> float:
        if waiter.chat is None:
            return 0.0
        paused = self._chat_paused.get(waiter.chat, 0.0)
        tat = self._chat_tat.get(waiter.chat) if self._chat_interval else None
        if tat is None:
            return paused
        return max(paused, tat - (self._chat_tau if waiter.priority == REPLY else 0.0))

    async def _dispense(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            if not self._waiters:
                await self._wakeup.wait()
                continue
            now = self._now()
            gate = max(self._tat - self._tau, self._paused_until)
            if gate > now:
                await self._sleep(gate - now)
                continue
            chosen: _Waiter | None = None
            soonest = math.inf
            for waiter in self._waiters:
                ready = self._chat_ready(waiter)
                if ready <= now:
                    chosen = waiter
                    break
                soonest = min(soonest, ready)
            if chosen is None:
                await self._sleep(soonest - now)
                continue
            self._waiters.remove(chosen)
            if chosen.future.done():  # its sender was cancelled
                continue
            if self._interval:
                self._tat = max(self._tat, now) + self._interval
            if chosen.chat is not None and self._chat_interval:
                tat = self._chat_tat.get(chosen.chat, now)
                self._chat_tat[chosen.chat] = max(tat, now) + self._chat_interval
                if len(self._chat_tat) > 10_000:
                    self._chat_tat = {k: v for k, v in self._chat_tat.items() if v > now}
                    self._chat_paused = {k: v for k, v in self._chat_paused.items() if v > now}
            chosen.future.set_result(None)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early when someone new arrives (they may be sendable at once)."""
        assert self._wakeup is not None
        try:
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        except TimeoutError:
            pass

    async def close(self) -> None:
        """Stop the dispenser; waiting senders are cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for waiter in self._waiters:
            waiter.future.cancel()
        self._waiters.clear()
