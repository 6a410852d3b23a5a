"""Calling the Bot API without losing messages: pacing, 429 retry_after, retries, backoff."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import random
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.adapters.telegram._limiter import BULK, RateLimiter
from bot.errors import AdapterError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before a call counts as failed.

    Args:
        attempts: tries for server errors (5xx) and timeouts, first one included.
        flood_attempts: tries when Telegram keeps answering 429.
        backoff: first wait after a server error; it doubles each time, up to ``max_backoff``.
        max_backoff: the longest wait between two tries.
        max_retry_after: a ``retry_after`` longer than this fails the call instead of waiting.
    """

    attempts: int = 6
    flood_attempts: int = 10
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 3600.0


def retry_after_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds, whatever PTB's int/timedelta migration returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


class CallFailed(AdapterError):
    """A Bot API call failed for good; ``attempts`` says how often it was tried."""

    def __init__(self, message: str, attempts: int, *, permanent: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.permanent = permanent

    def __repr__(self) -> str:
        return (
            f"CallFailed(message={self.message!r}, attempts={self.attempts!r}, "
            f"permanent={self.permanent!r})"
        )


class Caller:
    """Runs Bot API calls through the limiter with retries; one per adapter."""

    def __init__(self, limiter: RateLimiter, policy: RetryPolicy) -> None:
        self.limiter = limiter
        self.policy = policy

    async def call(
        self,
        what: str,
        make: Callable[[], Awaitable[T]],
        *,
        chat: str | None = None,
        priority: int = BULK,
        paced: bool = True,
    ) -> tuple[T, int]:
        """Call ``make()`` until it succeeds; returns its result and the number of tries.

        Args:
            what: a short description for logs and errors.
            make: builds a fresh request each try.
            chat: the chat the call writes to (per-chat pacing), if any.
            priority: the overall-limiter priority (replies before bulk sends).
            paced: False for calls that are not messages (they only wait out 429 pauses).

        Raises:
            CallFailed: on a permanent refusal (blocked, bad request) or when tries run out.
        """
        attempts = floods = 0
        while True:
            if paced:
                await self.limiter.acquire(chat, priority)
            else:
                await self.limiter.wait_unpaused()
            attempts += 1
            try:
                return await make(), attempts
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                floods += 1
                log.warning("telegram: %s hit flood control, retrying in %.1fs", what, wait)
                self.limiter.pause(wait, chat)
                if floods >= self.policy.flood_attempts or wait > self.policy.max_retry_after:
                    raise CallFailed(f"{what}: {exc}", attempts, permanent=False) from exc
            except (BadRequest, Forbidden, InvalidToken, ChatMigrated, Conflict) as exc:
                # Retrying cannot help: the chat blocked us, the request is wrong, or the token is.
                raise CallFailed(f"{what}: {exc}", attempts, permanent=True) from exc
            except NetworkError as exc:  # 5xx, connection errors and timeouts (TimedOut)
                if attempts - floods >= self.policy.attempts:
                    raise CallFailed(f"{what}: {exc}", attempts, permanent=False) from exc
                wait = min(
                    self.policy.max_backoff,
                    self.policy.backoff * 2 ** (attempts - floods - 1),
                )
                wait *= random.uniform(0.8, 1.2)
                log.warning(
                    "telegram: %s failed (%s), retry %d in %.2fs", what, exc, attempts, wait
                )
                await asyncio.sleep(wait)
            except TelegramError as exc:
                raise CallFailed(f"{what}: {exc}", attempts, permanent=True) from exc
