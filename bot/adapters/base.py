"""The contract every chat platform adapter meets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

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
        """The first attempt to send these inbound messages' replies is about to be made."""

    async def claim_sending(self, platform: str, msg_id: str) -> bool:
        """True for exactly one caller per message: that caller sends its replies, no other."""

    async def replied(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Every reply to these inbound messages was delivered (or given up on)."""

    async def unreplied(self, platform: str, handled_before: datetime) -> list[PendingReplies]:
        """Recent messages handled before ``handled_before`` whose replies never went out."""
