"""Outgoing Slack messages: paced per channel, 429s honoured, every outcome recorded once.

Slack allows chat.postMessage about once per second per channel. Each channel gets a lane (an
``asyncio.Lock``, whose waiters are served in order) and a "not before" time; lanes run side by
side, so a fan-out to many channels goes at the full allowed rate without bursts that earn 429s.

A post that times out (or whose connection drops) after it was sent may have been accepted. It is
never sent again blindly: the channel's recent history is searched for the post's delivery key
(carried in the message metadata); found means "sent", otherwise it is recorded as "uncertain".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.base import WriteNote
from bot.clock import Clock
from bot.events import Address, DeliveryOutcome
from bot.monitoring.metrics import RATE_LIMITED, SEND_RETRIES

log = logging.getLogger(__name__)
OnDelivery = Callable[[DeliveryOutcome], Awaitable[None]]
METADATA_EVENT = "listening_bot_delivery"
_NOT_SENT = (aiohttp.ClientConnectorError,)  # nothing reached Slack: safe to try again
_MAYBE_SENT = (asyncio.TimeoutError, TimeoutError, aiohttp.ClientError)


@dataclass(slots=True)
class _Lane:
    lock: asyncio.Lock
    not_before: float = 0.0


class SlackOutbox:
    """Posts messages through one Web API client, paced per channel.

    Args:
        client: the Web API client (its ``base_url`` is ``slack.api_url``); build it with
            ``retry_handlers=[]`` so the SDK never re-posts on its own.
        clock: stamps each outcome.
        interval: seconds between posts to one channel (a little over Slack's 1 per second, so
            network jitter does not earn a 429).
        max_attempts: posts tried per message (429s and refused connections) before "failed".
        on_delivery: awaited with every outcome, e.g. to store it.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        clock: Clock,
        *,
        interval: float = 1.02,
        max_attempts: int = 6,
        on_delivery: OnDelivery | None = None,
        remember: int = 20_000,
    ) -> None:
        self.client = client
        self.clock = clock
        self.interval = interval
        self.max_attempts = max_attempts
        self.on_delivery = on_delivery
        self._lanes: dict[str, _Lane] = {}
        self._done: OrderedDict[str, DeliveryOutcome] = OrderedDict()
        self._remember = remember

    def _lane(self, channel: str) -> _Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = _Lane(asyncio.Lock())
        return lane

    async def post(
        self,
        address: Address,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        key: str | None = None,
        prompt_ref: str | None = None,
        note: WriteNote | None = None,
    ) -> DeliveryOutcome:
        """Post one message (in ``address.thread_ref``'s thread if set) and report its outcome.

        ``key`` identifies the message across redeliveries: a key already delivered is not
        posted again, and the earlier outcome is returned. ``note.before`` is awaited after every
        wait (pacing, a 429's ``Retry-After``, a refused connection's backoff), right before a
        request is written; ``note.refused`` after a try that certainly did not arrive (429, a
        connection that never opened, an error answer), so the note is only ever standing while
        the post may be on the wire or may have arrived.
        """
        lane = self._lane(address.chat_ref)
        async with lane.lock:
            if key is not None and key in self._done:
                return self._done[key]
            outcome = await self._post_paced(lane, address, text, blocks, key, prompt_ref, note)
            if key is not None and outcome.status != "failed":
                self._done[key] = outcome
                while len(self._done) > self._remember:
                    self._done.popitem(last=False)
        # The channel id stays at DEBUG: a direct message's channel identifies a person.
        log.debug(
            "slack delivery %s to %s after %d attempt(s)",
            outcome.status,
            address.chat_ref,
            outcome.attempts,
        )
        if outcome.status != "sent":
            log.warning(
                "slack delivery %s after %d attempt(s)%s",
                outcome.status,
                outcome.attempts,
                f": {outcome.error}" if outcome.error else "",
            )
        if self.on_delivery is not None:
            try:
                await self.on_delivery(outcome)
            except Exception:  # a broken recorder must not turn a delivered message into an error
                log.error("slack: on_delivery callback failed", exc_info=True)
        return outcome

    async def _post_paced(
        self,
        lane: _Lane,
        address: Address,
        text: str,
        blocks: list[dict[str, Any]] | None,
        key: str | None,
        prompt_ref: str | None,
        note: WriteNote | None = None,
    ) -> DeliveryOutcome:
        attempts = 0
        error: str | None = None
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": key}} if key else None
        while attempts < self.max_attempts:
            wait = lane.not_before - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            attempts += 1
            if note is not None:
                await note.before()  # after every wait: from here the post may be on the wire
            lane.not_before = time.monotonic() + self.interval
            sent_at = time.time()
            try:
                response = await self.client.chat_postMessage(
                    channel=address.chat_ref,
                    text=text,
                    blocks=blocks,
                    thread_ts=address.thread_ref,
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(exc.response.get("error") or f"HTTP {status}")
                if status == 429:
                    RATE_LIMITED.labels(platform="slack").inc()
                    SEND_RETRIES.labels(platform="slack").inc()
                    retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
                    lane.not_before = time.monotonic() + retry_after
                    if note is not None:
                        await note.refused()
                    continue
                if status >= 500 and key:
                    return await self._settle(address, key, prompt_ref, attempts, error, sent_at)
                if note is not None:
                    await note.refused()
                return self._outcome(address, prompt_ref, "failed", attempts, None, error)
            except _NOT_SENT as exc:
                error = f"{type(exc).__name__}: {exc}"
                if note is not None:
                    await note.refused()
                SEND_RETRIES.labels(platform="slack").inc()
                lane.not_before = time.monotonic() + min(2.0**attempts, 30.0)
                continue
            except _MAYBE_SENT as exc:
                error = f"{type(exc).__name__}: {exc}".rstrip(": ")
                return await self._settle(address, key, prompt_ref, attempts, error, sent_at)
            ts = response.get("ts")
            return self._outcome(address, prompt_ref, "sent", attempts, ts, None)
        return self._outcome(address, prompt_ref, "failed", attempts, None, error)

    async def _settle(
        self,
        address: Address,
        key: str | None,
        prompt_ref: str | None,
        attempts: int,
        error: str,
        sent_at: float,
    ) -> DeliveryOutcome:
        """Slack may have taken a post we got no answer for: look for it instead of re-posting."""
        if key:
            ts = await self.find_by_key(address, key, since=sent_at - 60)
            if ts is not None:
                return self._outcome(address, prompt_ref, "sent", attempts, ts, None)
        return self._outcome(address, prompt_ref, "uncertain", attempts, None, error)

    async def find_by_key(self, address: Address, key: str, *, since: float) -> str | None:
        """The ts of a recent message in the channel (or thread) carrying this delivery key."""
        try:
            if address.thread_ref:
                response = await self.client.conversations_replies(
                    channel=address.chat_ref,
                    ts=address.thread_ref,
                    oldest=f"{since:.6f}",
                    include_all_metadata=True,
                    limit=200,
                )
            else:
                response = await self.client.conversations_history(
                    channel=address.chat_ref,
                    oldest=f"{since:.6f}",
                    include_all_metadata=True,
                    limit=200,
                )
        except (SlackApiError, *_MAYBE_SENT) as exc:
            log.warning("slack: could not look up an unanswered post (%s)", type(exc).__name__)
            return None
        for message in response.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return str(message.get("ts"))
        return None

    def _outcome(
        self,
        address: Address,
        prompt_ref: str | None,
        status: Any,
        attempts: int,
        ts: str | None,
        error: str | None,
    ) -> DeliveryOutcome:
        return DeliveryOutcome(address, prompt_ref, status, attempts, ts, error, self.clock.now())
