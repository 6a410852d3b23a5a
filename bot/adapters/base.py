"""The contract every chat platform adapter meets."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.events import Address, Inbound, Outbound, PendingReplies

InboundSink = Callable[[Inbound], Awaitable[list[Outbound]]]
"""What an adapter hands each inbound event to; it returns the replies to send back."""


class Adapter(Protocol):
    """A chat platform: receives people's messages and sends ours."""

    name: str

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving; each event goes to ``sink`` and its replies are sent back."""

    async def stop(self) -> None:
        """Stop receiving and release connections."""

    async def send(self, to: Address, message: Outbound) -> str | None:
        """Deliver one message; returns the platform's message id when it gives one."""


class ReplyLedger(Protocol):
    """Where an adapter notes that replies went out, and finds the ones a crash cut off."""

    async def sending(self, platform: str, msg_ids: Sequence[str]) -> None:
        """The request of one more reply to each of these messages is about to be written."""

    async def still_sending(self, platform: str, msg_ids: Sequence[str]) -> None:
        """This process is alive and still sending these messages' replies: renew its claims
        (a claim not renewed for a while is taken over, see :meth:`unreplied`)."""

    async def not_sent(self, platform: str, msg_ids: Sequence[str]) -> None:
        """The try noted by :meth:`sending` was refused: that reply did not arrive."""

    async def uncertain(self, platform: str, msg_ids: Sequence[str]) -> None:
        """A reply to each of these messages got no answer after it was sent (not repeated)."""

    async def claim_sending(self, platform: str, msg_id: str) -> bool:
        """True for exactly one caller per message: that caller sends its replies, no other."""

    async def replied(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Every reply to these inbound messages was delivered (or given up on)."""

    async def unreplied(
        self, platform: str, handled_before: datetime, claimed_before: datetime | None = None
    ) -> list[PendingReplies]:
        """Recent messages handled before ``handled_before`` whose replies never went out, each
        claimed for the caller (exactly one caller gets each): only batches nobody claimed, or
        whose claim was last renewed (by an attempt) before ``claimed_before`` (default
        ``handled_before``)."""


class UpdateQuarantine(Protocol):
    """Where an adapter keeps an update it could not read, so it can move past it."""

    async def keep(
        self,
        platform: str,
        update_id: int,
        raw: dict[str, Any],
        error: str,
        *,
        chat_ref: str | None,
        user_ref: str | None,
    ) -> None:
        """Store it (committed before returning); raises when it could not be stored."""


class Leadership(Protocol):
    """Exclusive right to do one thing among several processes (e.g. poll Telegram)."""

    @property
    def held(self) -> bool:
        """True while this process holds it (False as soon as it may have been lost)."""

    async def acquire(self) -> None:
        """Wait until this process holds it."""

    async def release(self) -> None:
        """Give it up (another process may take it at once)."""


class WriteNote(Protocol):
    """Whoever must know, durably, that a message may have reached the platform.

    An adapter that supports it (``notes_writes = True``) awaits :meth:`before` right before
    it writes the request of a message's first part, after every wait (pacing, a 429's
    ``retry_after``, backoff), and :meth:`refused` after a try that certainly did not arrive
    (the platform refused it, or the request never left). So a message counts as possibly
    delivered only from the moment its bytes may be on the wire, never while it waits.
    """

    async def before(self) -> None:
        """Note the coming write (committed before returning); raise to stop the send."""

    async def refused(self) -> None:
        """Take the note back: that try did not arrive."""


_WRITE_NOTE: contextvars.ContextVar[WriteNote | None] = contextvars.ContextVar(
    "write_note", default=None
)


@contextlib.contextmanager
def noting_writes(note: WriteNote) -> Iterator[None]:
    """Within this block, an adapter's ``send`` tells ``note`` when it is about to write."""
    token = _WRITE_NOTE.set(note)
    try:
        yield
    finally:
        _WRITE_NOTE.reset(token)


def write_note() -> WriteNote | None:
    """The note the current ``send`` must keep (see :func:`noting_writes`), if any."""
    return _WRITE_NOTE.get()
