"""A worker's claims on reply batches in a ledger that several workers share.

Several processes may share one database (webhook or Events API workers behind a load balancer,
or an old and a new process overlapping during a restart). Each batch of replies to one inbound
message is sent by whoever holds its claim (the ledger's ``claim_sending``). A live worker renews
the claims it holds every third of ``stale`` seconds (and the ledger renews one with every
attempt), so another worker takes a batch over only once its claim was not renewed for ``stale``
seconds: its worker died. Both the start-up recovery and the periodic sweep go through here, so
every adapter that shares a database judges "stale" the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from bot.adapters.base import ReplyLedger
from bot.clock import Clock
from bot.events import PendingReplies

log = logging.getLogger(__name__)

OnTaken = Callable[[PendingReplies], None]
"""Called with each batch a sweep took over (already claimed for this worker): send it."""


class ReplyClaims:
    """The claims on reply batches this worker holds, their renewal, and the sweep.

    Args:
        ledger: the shared reply ledger (the dispatcher).
        platform: whose batches (``"slack"``, ``"telegram"``).
        clock: where "now" comes from (the same clock the ledger stamps claims with).
        stale: seconds after which a claim that was not renewed is taken over.
    """

    def __init__(self, ledger: ReplyLedger, platform: str, clock: Clock, stale: float) -> None:
        self.ledger = ledger
        self.platform = platform
        self.clock = clock
        self.stale = stale
        self.held: set[str] = set()
        """Messages whose replies this worker claimed and is sending (renewed by the sweep)."""
        self.taking = True
        """False while stopping: claims are still renewed, but nothing new is taken over."""
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def holding(self, msg_id: str) -> Iterator[None]:
        """While the block runs, this worker sends ``msg_id``'s replies: keep its claim fresh."""
        self.held.add(msg_id)
        try:
            yield
        finally:
            self.held.discard(msg_id)

    def stale_before(self) -> datetime:
        """Claims last renewed before this moment belong to a worker that stopped renewing."""
        return self.clock.now() - timedelta(seconds=self.stale)

    async def recover(self, handled_before: datetime) -> list[PendingReplies]:
        """At start: batches handled before ``handled_before`` that nobody claimed, or whose
        claim went stale, each claimed for this worker. A batch another live worker is still
        sending is left to it (the sweep takes it if that worker dies)."""
        return await self.ledger.unreplied(
            self.platform, handled_before, claimed_before=self.stale_before()
        )

    async def sweep(self) -> list[PendingReplies]:
        """Renew this worker's claims, then take the batches whose claim went stale (or that
        nobody claimed for ``stale`` seconds), each claimed for this worker."""
        if self.held:
            await self.ledger.still_sending(self.platform, sorted(self.held))
        if not self.taking:
            return []
        before = self.stale_before()
        return await self.ledger.unreplied(self.platform, before, claimed_before=before)

    def start(self, on_taken: OnTaken) -> None:
        """Sweep every third of ``stale`` seconds until :meth:`close`."""
        if self._task is None:
            self.taking = True
            self._task = asyncio.create_task(
                self._loop(on_taken), name=f"{self.platform}-reply-sweep"
            )

    async def close(self) -> None:
        """Stop sweeping and renewing (claims still held go stale and are taken over)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, on_taken: OnTaken) -> None:
        while True:
            await asyncio.sleep(self.stale / 3)
            try:
                pending = await self.sweep()
            except Exception as exc:  # the database is away: try again next round
                log.warning("%s: reply sweep failed (%s)", self.platform, type(exc).__name__)
                continue
            # A batch of our own comes back only if our renewal and the look-up were further
            # apart than ``stale`` (a stalled database): we are still sending it, so it stays ours.
            pending = [item for item in pending if item.platform_msg_id not in self.held]
            if pending:
                log.warning(
                    "%s: sending %d reply batch(es) a stopped worker left",
                    self.platform,
                    len(pending),
                )
            for item in pending:
                on_taken(item)
