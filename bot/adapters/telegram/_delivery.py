"""Calling the Bot API without losing or repeating messages: pacing, 429s, retries, backoff.

What a failed call means decides whether it may be tried again:

* Telegram answered with an error (5xx, 429): it did not take the call; try again (a 429 after
  its ``retry_after``, for that chat only).
* The request never left (connection refused, connect or pool timeout): try again.
* The request was written and no answer came (read timeout, dropped connection): Telegram may
  have acted on it. A call that is safe to repeat (``repeatable``) is tried again; a message is
  not: :class:`CallUncertain` is raised and the caller records the message as ``uncertain``.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import random
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from telegram.error import NetworkError, RetryAfter, TelegramError
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
        max_retry_after: a ``retry_after`` longer than this fails the call at once instead of
            holding the chat's queue (the scheduler tries a prompt again later).
    """

    attempts: int = 6
    flood_attempts: int = 10
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0


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

    def __init__(
        self,
        message: str,
        attempts: int,
        *,
        permanent: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after)
        self.attempts = attempts
        self.permanent = permanent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, attempts={self.attempts!r}, "
            f"permanent={self.permanent!r}, retry_after={self.retry_after!r})"
        )


class CallUncertain(CallFailed):
    """The request was written but no answer came: Telegram may have acted on it.

    Raised only for calls that must not be repeated (sending a message); the message is then
    recorded as ``uncertain`` instead of being sent a second time.
    """


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def maybe_sent(exc: BaseException) -> bool:
    """True when a failed call may have reached Telegram (written, then no answer)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, _NOT_SENT):
            return False
        if isinstance(cause, httpx.TransportError):
            return True  # read/write timeout, dropped connection: written, or partly
        cause = cause.__cause__ or cause.__context__
    return False  # Telegram answered (e.g. 5xx): it did not take the call


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
        repeatable: bool = True,
        before_send: Callable[[], Awaitable[None]] | None = None,
        refused: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[T, int]:
        """Call ``make()`` until it succeeds; returns its result and the number of tries.

        Args:
            what: a short description for logs and errors.
            make: builds a fresh request each try.
            chat: the chat the call writes to (per-chat pacing), if any.
            priority: the overall-limiter priority (replies before bulk sends).
            paced: False for calls that are not messages (they only wait out 429 pauses).
            repeatable: False when doing it twice would show twice (sending a message).
            before_send: awaited right before each request is written (after the rate limiter
                let it through), e.g. to note that the message may now arrive.
            refused: awaited after a try that certainly did not arrive (Telegram refused it or
                it never left), e.g. to take that note back.

        Raises:
            CallUncertain: a call that is not repeatable got no answer after it was written.
            CallFailed: on a permanent refusal (blocked, bad request), a ``retry_after`` over
                the policy's maximum, or when tries run out.
        """
        attempts = floods = 0
        while True:
            if paced:
                await self.limiter.acquire(chat, priority)
            else:
                await self.limiter.wait_unpaused()
            if before_send is not None:
                await before_send()
            attempts += 1
            try:
                return await make(), attempts
            except NetworkError as exc:
                if refused is not None and not maybe_sent(exc):
                    await refused()
                await self._network_error(what, exc, attempts, floods, repeatable)
            except TelegramError as exc:
                if refused is not None:
                    await refused()
                floods += isinstance(exc, RetryAfter)
                await self._refusal(what, exc, attempts, floods, chat)

    async def _network_error(
        self, what: str, exc: NetworkError, attempts: int, floods: int, repeatable: bool
    ) -> None:
        """5xx, connection errors and timeouts (TimedOut): wait and try again, or raise."""
        if not repeatable and maybe_sent(exc):
            raise CallUncertain(
                f"{what}: no answer after sending ({exc})", attempts, permanent=False
            ) from exc
        if attempts - floods >= self.policy.attempts:
            raise CallFailed(f"{what}: {exc}", attempts, permanent=False) from exc
        wait = min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempts - floods - 1))
        wait *= random.uniform(0.8, 1.2)
        log.warning("telegram: %s failed (%s), retry %d in %.2fs", what, exc, attempts, wait)
        await asyncio.sleep(wait)

    async def _refusal(
        self, what: str, exc: TelegramError, attempts: int, floods: int, chat: str | None
    ) -> None:
        """Telegram said no: wait out a 429 (the caller tries again), else raise."""
        if isinstance(exc, RetryAfter):
            wait = retry_after_seconds(exc)
            if wait > self.policy.max_retry_after:
                # Do not hold the chat (or anyone) for minutes: fail now, try later.
                log.warning("telegram: %s refused for %.0fs; not waiting", what, wait)
                raise CallFailed(
                    f"{what}: flood control for {wait:.0f}s",
                    attempts,
                    permanent=False,
                    retry_after=wait,
                ) from exc
            if floods >= self.policy.flood_attempts:
                raise CallFailed(
                    f"{what}: {exc}", attempts, permanent=False, retry_after=wait
                ) from exc
            log.warning("telegram: %s hit flood control, retrying in %.1fs", what, wait)
            self.limiter.pause(wait, chat)
            return
        # Retrying cannot help: the chat blocked us (Forbidden), the request is wrong
        # (BadRequest, ChatMigrated), the token is (InvalidToken), or another poller (Conflict).
        raise CallFailed(f"{what}: {exc}", attempts, permanent=True) from exc
